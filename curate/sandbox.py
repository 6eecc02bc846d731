"""The sandbox process of :mod:`curate.guard`: runs work sent over a socket, one call at a time.

Started as ``python -m curate.sandbox FD MEMORY_MB`` (or ``FD later``: a spare child,
sent ``("limit", MEMORY_MB)`` once the bound is known) with one end of a socket pair. It
caps its own address space at its size after start-up plus ``MEMORY_MB``
(``RLIMIT_AS``), says ``("ready",)``, then answers each ``(fn, arg)`` message with a tagged tuple:
``("ok", result)``, ``("reject", reason, detail)`` for a verdict of the work
(:class:`~curate.codec.CodecError` or anything with a ``reason``), ``("memory", text)``
or ``("error", text)``. Messages are the project's own objects, passed between a parent
and the child it started (``multiprocessing.connection``), never data from files.
"""

from __future__ import annotations

import signal

# A Ctrl-C at the terminal is the parent's to act on (main's docstring), from the first
# line: during the imports below (1-2 s) it had printed a KeyboardInterrupt traceback
# from this child, which the driver starts before Ray (curate.guard.prestart). The parent
# starts it with SIGINT blocked (curate.guard), so one during the interpreter's own
# start-up waits; ignored now, it is dropped when unblocked.
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

import gc  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from multiprocessing.connection import Connection  # noqa: E402

import curate.codec  # noqa: F401,E402 - preload: the first call should not pay for imports
import curate.extract  # noqa: F401,E402
import curate.split  # noqa: F401,E402
from curate.child import address_space  # noqa: E402
from curate.codec.errors import CodecError  # noqa: E402


def limit_memory(memory_mb: int) -> None:
    """Cap this process's address space at its current size plus ``memory_mb``, or at the
    cap it inherited when that is lower: a sandbox child started by work that itself runs
    in one (a local run's restore call re-encodes a clip with the extract stage, which
    sandboxes its decode) cannot raise its parent's cap, and had failed to start."""
    limit = address_space() + memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def call(fn, arg) -> tuple:
    """Run ``fn(arg)`` and tag the outcome (see module docstring)."""
    try:
        return ("ok", fn(arg))
    except MemoryError:
        return ("memory", "over the memory bound")
    except CodecError as exc:
        return ("reject", exc.reason, exc.detail)
    except Exception as exc:  # noqa: BLE001 - returned to the parent, which decides
        reason = getattr(exc, "reason", None)
        if isinstance(reason, str):
            return ("reject", reason, getattr(exc, "detail", str(exc)))
        return ("error", traceback.format_exception_only(type(exc), exc)[-1].strip())


def _remove_own_tmp() -> None:
    """Remove this child's temporary folder (:mod:`curate.child`) as it exits: a parent that
    ends without its own clean-up (a Ray worker killed at shutdown, ``os._exit``) leaves
    the child to find the socket closed, and the folder would stay behind."""
    folder = os.environ.get("VIDCURATE_CHILD_TMP")
    if folder and folder == os.environ.get("TMPDIR"):  # only the folder the parent made for it
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    """Serve calls (:func:`serve`), then remove this child's temporary folder."""
    try:
        return serve(argv)
    finally:
        _remove_own_tmp()


def serve(argv: list[str]) -> int:
    """Serve calls until the parent closes the socket. ``argv``: the socket's file
    descriptor and the memory bound in MB, or ``later``: then the first message,
    ``("limit", MEMORY_MB)``, gives the bound, counted from the size after the imports as
    always. A Ctrl-C at the terminal is the parent's to act on (it kills this child when
    it stops early), so SIGINT is ignored (from the module's first line, before its imports).
    At the end the imported modules' objects are frozen (:func:`gc.freeze`): Python's
    shutdown would spend about 0.3 CPU-seconds collecting them, often while the run's
    other work waits for a core."""
    conn = Connection(int(argv[0]))
    bound = argv[1]
    if bound == "later":  # a spare child (curate.guard.prestart): the bound comes once it is known
        try:
            _, bound = conn.recv()
        except (EOFError, ConnectionError):  # closed unused
            return 0
    limit_memory(int(bound))
    try:
        conn.send(("ready",))
    except ConnectionError:  # the parent closed already: a prestarted child it did not need
        return 0
    while True:
        try:
            fn, arg = conn.recv()
        except (EOFError, ConnectionError):  # closed, or reset with our "ready" unread
            gc.freeze()
            return 0
        except Exception as exc:  # noqa: BLE001 - a message that does not load is answered, not fatal
            conn.send(("error", f"cannot load the call: {type(exc).__name__}: {exc}"))
            continue
        result = call(fn, arg)
        try:
            conn.send(result)
        except (BrokenPipeError, ConnectionError):  # the parent is gone (killed): nobody to answer
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
