"""The Ray session of a run: start or join Ray, stop reading rows, and shut a local Ray down.

:func:`init_ray` starts a local Ray (the laptop case) or joins a cluster (``--address``),
with Ctrl-C held back until Ray is up (:func:`sigint_deferred`);
:func:`stop_row_iteration` ends a Ray Data row stream cleanly before the session goes;
:func:`shutdown_ray` stops what :func:`init_ray` started, without the second that Ray's
own shutdown spends on its autoscaler monitor (measured on Ray 2.60: ``ray.shutdown``
1.35 s, of which 1.0 s waiting for that process to answer SIGTERM).

A local Ray of the run's own starts without the head processes that nothing reads
(:func:`pipelines.lean.lean_head`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator

import ray

from pipelines.exits import ClusterUnreachable, Terminated, not_ignored, on_sigterm
from pipelines.lean import lean_head
from pipelines.terminal import WORKER_SETUP_HOOK, stdin_detached


def _auth_hint(address: str | None) -> str:
    """What to add to a failed connection to a named cluster where this driver has no
    ``RAY_AUTH_MODE=token``: Ray 2.60 reads a token (``RAY_AUTH_TOKEN``, ``~/.ray/auth_token``)
    only then, and a cluster with token authentication answered such a driver with a
    stream of ``InvalidAuthToken`` warnings and "Failed to connect to Ray cluster" (a
    cluster break test), not with its refusal."""
    if address in (None, "auto", "local") or os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        return ""
    return ("; if the cluster uses token authentication, set RAY_AUTH_MODE=token here too, with its "
            "token in RAY_AUTH_TOKEN or ~/.ray/auth_token")


def init_ray(address: str | None, num_cpus: int | None, on_signal=None) -> bool:
    """Start a local Ray of this process's own (``address`` None, ``num_cpus`` None: all
    cores; also when ``ray start`` runs a Ray on this machine, which ``ray.init()`` alone
    would join) or join the cluster at ``address``. Returns True when this call started or
    joined Ray (False: this process was already connected), so the caller disconnects
    (:func:`shutdown_ray`).

    A Ctrl-C or SIGTERM while Ray starts takes effect once it is up (:func:`sigint_deferred`);
    ``on_signal()`` is called at once, from the signal handler (it must not block: the
    runner stops the work in hand there, so Ray's start has the CPUs).

    Raises :class:`pipelines.exits.ClusterUnreachable` when no cluster answers at ``address``
    or it refuses this driver (token authentication: no token, or another cluster's).
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    # Ray's notice that token auth is on by default (it stays on) is noise in every run.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    # Ray Data reserves a share of the CPUs for each operator; on a small node that halves
    # the probe/split operator while extract waits for its output (measured: 38 s -> 26 s
    # for ../shared/footage on 2 cores), so operators share the pool instead.
    ctx.op_resource_reservation_enabled = False
    # A clip row carries its frame and motion samples (about 3 MB): with Ray Data's default
    # 128 MiB blocks the one-decode worker held ~40 finished clips before handing any on
    # (a worker's private memory 1.27 GiB on a 10-minute 1080p source; 0.80 GiB at 32 MiB).
    ctx.target_max_block_size = 32 * 2**20
    if ray.is_initialized():
        return False
    kwargs = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    try:
        with sigint_deferred(on_signal) as interrupted, _own_sigterm_handler():
            _init(address, num_cpus, kwargs)
    except ConnectionError as exc:  # e.g. --address auto with no cluster running here
        raise ClusterUnreachable(f"--address {address}: {str(exc).strip().splitlines()[0]}"
                                 + _auth_hint(address)) from None
    except ray.exceptions.AuthenticationError as exc:  # token auth: no token, or another cluster's
        raise ClusterUnreachable(f"--address {address}: the cluster refused this driver: "
                                 f"{str(exc).strip().splitlines()[0]} (set RAY_AUTH_TOKEN, or the "
                                 "token file, to the cluster's token)") from None
    if interrupted:  # Ctrl-C or SIGTERM while Ray started: stop it as a finished run would, then say so
        shutdown_ray()
        if signal.SIGTERM in interrupted:
            raise Terminated()
        raise KeyboardInterrupt
    if threading.current_thread() is threading.main_thread():
        # ray.init's own SIGTERM handler exits at once (sys.exit(15)): mid-run that had
        # aborted Ray's core worker (exit 134 and a crash dump). Now a SIGTERM stops the
        # run as a Ctrl-C does, and the command exits 143.
        signal.signal(signal.SIGTERM, on_sigterm)
    return True


def _init(address: str | None, num_cpus: int | None, kwargs: dict) -> None:
    if address:  # workers on nodes started elsewhere (maybe from a terminal): the hook
        ray.init(address=address, runtime_env={"worker_process_setup_hook": WORKER_SETUP_HOOK}, **kwargs)
    else:  # the raylet, and every worker it starts, inherit /dev/null as stdin
        with stdin_detached(), lean_head():  # "local": a Ray of its own, never one `ray start` began here
            ray.init(address="local", num_cpus=num_cpus, **kwargs)



@contextlib.contextmanager
def _own_sigterm_handler() -> Iterator[None]:
    """Inside the block ``ray.init`` leaves the SIGTERM handler alone: its own exits at once
    (``sys.exit(15)``), which during start-up had ended the command with exit 15, no
    message and Ray's agents orphaned for a minute; :func:`sigint_deferred` holds the
    signal back instead (the handler is set again for the run once Ray is up)."""
    utils = getattr(ray._private, "utils", None)  # noqa: SLF001 - Ray's own helper, where it has one
    original = getattr(utils, "set_sigterm_handler", None)
    if original is None:
        yield
        return
    utils.set_sigterm_handler = lambda handler: None
    try:
        yield
    finally:
        utils.set_sigterm_handler = original


@contextlib.contextmanager
def sigint_deferred(on_signal=None) -> Iterator[list[int]]:
    """Hold a Ctrl-C (SIGINT) and a SIGTERM back while the block runs; the list it gives
    holds the signals that came (the caller then cleans up and raises KeyboardInterrupt,
    or :class:`pipelines.exits.Terminated` for a SIGTERM).

    A Ctrl-C inside ``ray.init`` left it half done: the raylet (which dies with this
    process) was gone but its dashboard and runtime-env agents lived on for about a
    minute, and in some tries the process then ended with a segmentation fault (exit 139)
    instead of 130. Deferred, the interrupt takes effect once Ray is up and Ray is stopped
    as after a finished run. ``on_signal()``, if given, is called from the handler on the
    first signal (it must not block). Only on the main thread (signal handlers live
    there); elsewhere nothing is held back."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return
    def defer(signum, frame):
        if not got:
            word = b"terminated" if signum == signal.SIGTERM else b"interrupt"
            os.write(2, b"\n" + word + b": stopping once Ray has finished starting (it cannot be cut short safely)\n")
            if on_signal is not None:
                on_signal()
        got.append(signum)

    previous = {sig: signal.signal(sig, defer) for sig in not_ignored(signal.SIGINT, signal.SIGTERM)}
    try:
        yield got
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def owns_local_ray() -> bool:
    """Whether this process started the Ray node it is connected to (a local head), not
    joined one: ``ray.init()`` without an address also joins a cluster that ``ray start``
    began on this machine."""
    return _local_head() is not None


def _local_head():
    """The Ray node this process started (a local head), or None (joined a cluster, or
    this Ray version keeps it elsewhere)."""
    node = getattr(ray._private.worker, "_global_node", None)  # noqa: SLF001 - see shutdown_ray
    is_head = getattr(node, "is_head", None)
    return node if callable(is_head) and is_head() else None


def shutdown_ray() -> None:
    """Disconnect from Ray and stop the local Ray this process started, if any.

    ``ray.shutdown`` stops the raylet and the GCS first and then sends SIGTERM to the
    autoscaler monitor, whose handler tries to report its end to the GCS that is already
    gone and is killed after a 1 s timeout: a second added to every local run. The
    monitor has nothing to scale on a local node, so it is killed first (Ray's own
    ``Node.kill_monitor``, as Ray's tests do); then ``ray.shutdown`` stops the rest as
    usual. A joined cluster is only disconnected from, as before."""
    head = _local_head()
    if head is not None:
        try:
            head.kill_monitor(check_alive=False)
        except Exception:  # noqa: BLE001 - a Ray without it: the plain shutdown below still stops it
            pass
    ray.shutdown()


def stop_row_iteration(rows, timeout_s: float = 5.0) -> None:
    """Close a Ray Data row generator and wait (up to ``timeout_s`` seconds) for its fetch threads.

    Left to the garbage collector after a Ctrl-C, Ray Data's fetch threads (``iter_threaded``,
    ``Prefetcher``) were still inside Ray calls when ``ray.shutdown`` ran, and Ray's core
    worker then ended the whole process with exit 1 before the interrupt was reported."""
    close = getattr(rows, "close", None)
    if close is not None:
        close()
    deadline = time.monotonic() + timeout_s
    for thread in threading.enumerate():
        if thread.name in ("iter_threaded", "Prefetcher") and thread.is_alive():
            thread.join(max(0.0, deadline - time.monotonic()))
