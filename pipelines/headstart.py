"""Head start and local passes: per-source work done by the driver, beside a local Ray or without one.

Starting a local Ray (GCS, raylet, agents) and its first workers takes 3-5 s on a small
machine, mostly waiting, before the first source is decoded; for a run over a few
minutes of video that is a third of the wall time (issue 10). Meanwhile the driver takes
sources and runs exactly the plan's row functions on them
(:meth:`pipelines.rows.PassSteps.run_local`: probe and the one-decode pass in this
process's sandbox children, :mod:`curate.guard`, with the same time and memory limits),
one source at a time. Output is the same either way (same rows, committed per source the
same way). Two ways on from there, by ``ray.local_passes``:

- **local passes** (the default): the driver keeps every source. It takes them largest
  first (the last to finish is a small one), and once Ray is up it runs one pass per CPU
  of the Ray, each thread with sandbox children of its own
  (:func:`curate.guard.own_children`: the same isolation, time and memory bounds as a
  Ray worker's child). Ray Data gets no per-source task; Ray runs what follows (dedup's
  verification tasks, the report's thumbnails, model stages). On a single machine a
  Ray Data task per source had cost each Ray worker its imports of Ray Data, pandas and
  the stage modules, a sandbox child of its own and the map task's plumbing, and the
  driver Ray Data's executor: about 4 CPU-s of a 2-core run over ``../shared/footage``
  (docs/benchmarks.md).
- **head start** (``local_passes: false``): the driver takes sources from the small end
  of the plan's order (:func:`pipelines.rows.largest_first`: the large ones stay at the
  front of Ray's queue); when Ray is ready it stops taking sources, the one in hand
  finishes alongside Ray's work, and Ray Data gets the rest.

- **no Ray** (``ray.start: when_needed``, :mod:`pipelines.localrun`): local passes on one
  thread per CPU from the start, and no Ray at all: once a thread's sources are done it
  serves the driver's calls (``serve``: :meth:`HeadStart.calls`) in its sandbox child,
  the calls a local Ray's workers would run (dedup's parallel calls, shard packing, the
  report's thumbnails, restoring work files), until :meth:`HeadStart.close`.

Only for a local Ray this process starts, or none (with ``--address`` the driver's machine may
do no work at all; a cluster's nodes each have their own workers) and only when every
per-source step is a plain CPU step on the one-decode path
(:meth:`~pipelines.rows.PassSteps.local_ok`); ``ray.head_start: false`` turns both off.

:func:`prestart_sandboxes` starts the head start's sandbox children while the command
is still importing its own modules, and the head start begins before the driver imports
Ray and Ray Data (the row functions, :mod:`pipelines.rows`, import neither; the runner
imports them once the head start has its first source): the child's imports and first
source use the core that the driver's imports leave idle. On a 2-core machine the child
had waited about a second for those imports before its first source.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from curate import guard
from curate.guard import Limits
from curate.parallel import apply_call
from curate.tasks import ClipTask
from pipelines.exits import signals_held
from pipelines.rows import PassSteps, loads

if TYPE_CHECKING:
    from pipelines.config import Pipeline

Deliver = Callable[[str, list[ClipTask]], None]


class HeadStart:
    """Runs sources from the end of ``order`` on a thread of this process until :meth:`stop`.

    ``deliver(path, tasks)`` is called on that thread with each finished source's clip
    tasks (all of them: the source can be committed at once). An exception in the work
    (a bug: the steps turn bad input into reject rows) ends the head start and is raised
    again by :meth:`join`.

    ``keep_all``: local passes (module docstring): every source is the driver's, taken
    from the front of ``order`` (largest first: the last to finish is small), and
    :meth:`grow` adds threads once Ray is up; :meth:`stop` is then only for a failing run.
    """

    def __init__(self, steps: PassSteps, work_dir: str, order: list[str], deliver: Deliver,
                 keep_all: bool = False, serve: Limits | None = None):
        self.steps, self.work_dir, self.deliver = steps, work_dir, deliver
        self.keep_all = keep_all
        self.serve = serve  # a local run without Ray: threads then serve calls (see calls)
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._queue = list(reversed(order)) if keep_all else list(order)  # taken from the end
        self._taken: list[str] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._closed = threading.Event()
        self._cancelling = threading.Event()  # cancel(): queued calls are cancelled, not run
        self.error: BaseException | None = None
        self._threads: list[threading.Thread] = []
        self._ended: list[threading.Event] = []  # one per thread, set as its work ends (see wait)
        self._exited: list[threading.Event] = []  # one per thread, set as it ends (calls served too)
        self.started_at: float | None = None  # time.monotonic() of start()

    def start(self) -> "HeadStart":
        """Begin taking sources, on one thread (it takes over the sandbox children this
        process prestarted, :func:`prestart_sandboxes`)."""
        self.started_at = time.monotonic()
        return self.grow(1)

    def grow(self, workers: int) -> "HeadStart":
        """Run on ``workers`` threads in all (more than now: new threads, each with
        sandbox children of its own, :func:`curate.guard.own_children`; fewer: no change)."""
        with self._lock:
            while len(self._threads) < workers and not self._stopped.is_set():
                n = len(self._threads)
                ended, exited = threading.Event(), threading.Event()
                thread = threading.Thread(target=self._run, args=(n == 0, ended, exited), daemon=True,
                                          name=f"vidcurate-local-pass-{n}")
                self._threads.append(thread)
                self._ended.append(ended)
                self._exited.append(exited)
                thread.start()
        return self

    def _next(self) -> str | None:
        with self._lock:
            if self._stopped.is_set() or not self._queue:
                return None
            path = self._queue.pop()
            self._taken.append(path)
            return path

    def _run(self, first: bool, ended: threading.Event, exited: threading.Event) -> None:
        try:
            with guard.own_children(adopt=first):  # this thread's children; stopped when it ends
                try:
                    while (path := self._next()) is not None:
                        tasks = [loads(row["task"]) for row in self.steps.run_local(path, self.work_dir)]
                        self.deliver(path, tasks)
                except BaseException as exc:  # noqa: BLE001 - raised again on the main thread by join()
                    with self._lock:
                        self.error = self.error or exc
                        self._stopped.set()  # the other threads take no further source
                ended.set()
                if self.serve is not None:
                    self._serve_calls()
        finally:
            ended.set()
            exited.set()  # after own_children stopped this thread's children

    def _serve_calls(self) -> None:
        """Run calls (:meth:`calls`) in this thread's sandbox children until :meth:`close`."""
        while (item := self._calls.get()) is not None:
            job, future = item
            if self._cancelling.is_set():
                future.cancel()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                ok, value = guard.run_limited(apply_call, job, self.serve)
            except BaseException as exc:  # noqa: BLE001 - the caller's to raise
                future.set_exception(exc)
                continue
            (future.set_result if ok else future.set_exception)(value)

    def calls(self, fn: Callable, calls: list[tuple], shared: tuple = ()) -> list:
        """``[fn(*shared, *args) for args in calls]`` (:data:`curate.parallel.Calls`), each in
        the sandbox child of a thread that has finished its sources (``serve`` limits: a
        call that runs over them, or whose child dies, is retried, then raises
        :class:`curate.guard.LimitExceeded`); results in order. The work's own exception is
        raised here. Needs ``serve``; raises RuntimeError without it or after :meth:`close`."""
        if self.serve is None or self._closed.is_set():
            raise RuntimeError("this head start serves no calls")
        futures = []
        for args in calls:
            future: Future = Future()
            self._calls.put(((fn, tuple(shared) + tuple(args)), future))
            futures.append(future)
        if self._closed.is_set():  # closed meanwhile: what no thread will take is cancelled
            self._drain()
        return [f.result() for f in futures]  # a cancelled call raises CancelledError

    def _drain(self) -> None:
        """Cancel the calls still queued (the end-of-queue marks stay queued)."""
        marks = 0
        while True:
            try:
                item = self._calls.get_nowait()
            except queue.Empty:
                break
            if item is None:
                marks += 1
            else:
                item[1].cancel()
        for _ in range(marks):
            self._calls.put(None)

    @property
    def cpus(self) -> int:
        """Threads that serve calls (one sandbox child each at a time)."""
        return len(self._events())

    def close(self, timeout_s: float = 10.0) -> None:
        """End the threads that serve calls once the calls given before have run, and wait
        up to ``timeout_s`` seconds for them to end (their sandbox children stop with them)."""
        if not self._closed.is_set():
            self._closed.set()
            for _ in self._events():
                self._calls.put(None)
        deadline = time.monotonic() + timeout_s
        with self._lock:
            exited = list(self._exited)
        for done in exited:
            done.wait(max(0.0, deadline - time.monotonic()))

    def stop(self) -> list[str]:
        """Take no further source; returns the sources taken (finished or in hand)."""
        with self._lock:
            self._stopped.set()
            return list(self._taken)

    def halt(self) -> None:
        """Stop at once without waiting (safe in a signal handler: a Ctrl-C while Ray
        starts): take no further source and kill this process's sandbox children
        (:func:`curate.guard.halt`), so the source in hand ends now and Ray's start gets
        the CPUs; :meth:`cancel` follows when the run ends."""
        self._stopped.set()
        guard.halt()

    def cancel(self, timeout_s: float = 10.0) -> None:
        """Stop now (the run is failing or interrupted): take no further source, kill this
        process's sandbox children so the source in hand ends at once (its result is
        not committed: :meth:`pipelines.commits.SourceCommits.closing`), cancel the calls
        not yet run (a call in hand fails with its child), and wait up to ``timeout_s``
        seconds for the threads to end, calls served included: nothing of theirs runs
        after this returns. The work's own exception is not raised."""
        self.stop()
        self._cancelling.set()  # queued calls are not run; the one in hand loses its child
        # A second Ctrl-C or SIGTERM meanwhile must not end the block early: its end lets a
        # killed call be retried in a new child (found by a break test: a double Ctrl-C)
        with signals_held(), guard.cancelled():  # in force until the threads have ended
            deadline = time.monotonic() + timeout_s
            self.wait(timeout_s)
            self._drain()
            self.close(max(0.0, deadline - time.monotonic()))

    def join(self) -> None:
        """Wait for the sources in hand (with ``keep_all``: every source); raise the work's
        first exception, if there was one."""
        while not self.wait(3600.0):
            pass
        if self.error is not None:
            raise self.error

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` seconds for the threads' work to end (the caller shows
        the sources committed meanwhile); True once every one has ended.

        Each thread sets an event of its own as its work ends; ``Thread.join`` is not
        used: in CPython 3.11 a signal handler that raises (Ctrl-C, SIGTERM) while the
        main thread is in ``join(timeout)`` marks the joined thread as stopped though it
        runs on (``is_alive()`` False, later joins return at once), so :meth:`cancel`
        had stopped waiting and ended the cancellation while a pass still ran, which
        then retried its killed child in a new one and wrote into the output after the
        lease was released (found by a break test)."""
        deadline = time.monotonic() + timeout_s
        for ended in self._events():
            if not ended.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def _events(self) -> list[threading.Event]:
        with self._lock:
            return list(self._ended)


def prestart_sandboxes(pipeline: "Pipeline", address: str | None) -> bool:
    """Start this process's sandbox children for a head start's probe and one-decode pass
    (:func:`curate.guard.prestart`, one per memory bound) when a head start may follow: no
    ``address``, ``ray.head_start`` on, extract on the one-decode path. Returns whether
    any was started; :func:`curate.guard.close_all` stops them when no head start comes."""
    from curate.passfit import limits_for, plain_cpu_steps  # noqa: PLC0415 - light: numpy and PyAV only

    probe, split, extract = pipeline.stages[:3]
    if address or not pipeline.ray.head_start or not plain_cpu_steps(pipeline.stages[:2] + pipeline.clip_stages()):
        return False  # the cases where Runner makes no head start (PassSteps.local_ok)
    bounds = {lim.memory_mb for lim in (probe.limits, limits_for(split, extract, 0.0)) if lim is not None}
    for memory_mb in sorted(bounds):
        guard.prestart(memory_mb)
    return bool(bounds)
