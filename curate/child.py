"""The parent's handle on one sandbox child (:mod:`curate.sandbox`), for :mod:`curate.guard`.

:class:`Child` starts ``python -m curate.sandbox`` with one end of a socket pair, sends it
calls one at a time and stops it. Each child gets a temporary folder of its own (its
``TMPDIR``, ``vidcurate-sandbox-<host>-<parent pid>-*`` in the parent's temporary folder): the one-decode pass's frame spill
(:mod:`curate.spill`, up to ``extract.spill_max_mb`` per source), its speculative encodes
and every other temporary file of the child's work go there, and the parent removes the
folder once the child has ended, however it ended. A child killed for its time limit,
its memory bound or a cancelled run cannot clean up after itself: before, each such kill
left its scratch folder behind (on the development machine 47 pass folders, 1.2 GB of
spilled frames, collected in a day of tests and interrupted runs). The folder also goes
when the parent's interpreter exits (:func:`weakref.finalize`). A parent that ends
without that clean-up (SIGKILL, ``os._exit``: Ray workers at shutdown had left empty
folders) leaves it to the child, which removes it as it exits on finding the socket
closed (:func:`curate.sandbox.main`); what both killed at once leave behind, the next
process to start a sandbox child on the node removes (:mod:`curate.scratch`).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from curate.scratch import owned_dir, sweep

START_TIMEOUT_S = 300.0  # a child that has not imported its modules by then is broken
_SWEPT = threading.Event()
SANDBOX_MODULE = "curate.sandbox"  # run with ``python -m``


def address_space(pid: int | str = "self") -> int:
    """Address space in bytes of process ``pid`` (``/proc/PID/statm``: what ``RLIMIT_AS``
    counts), of this process by default. Raises OSError where there is no ``/proc`` or no
    such process."""
    with open(f"/proc/{pid}/statm", encoding="ascii") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


class Child:
    """One child process running ``module`` (default :mod:`curate.sandbox`), reached over a
    socket pair. ``memory_mb`` None: a spare child, bound later (:meth:`bind`). ``tmp``:
    its temporary folder (module docstring), removed by :meth:`kill` and :meth:`close`.
    ``calls``: calls sent so far. Raises OSError when the process or its folder cannot be
    made."""

    def __init__(self, memory_mb: int | None, module: str = SANDBOX_MODULE):
        _sweep_once()
        self.tmp = owned_dir("sandbox")
        self._remove_tmp = weakref.finalize(self, shutil.rmtree, self.tmp, True)
        parent, child = socket.socketpair()
        # MALLOC_ARENA_MAX: every glibc malloc arena reserves 64 MB of address space, which
        # RLIMIT_AS counts; threads (the one-decode pass runs four) would each get one and,
        # over a child's calls, eat its memory bound (TransNetV2 then failed to allocate).
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
                   OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
                   MALLOC_ARENA_MAX=os.environ.get("MALLOC_ARENA_MAX", "2"), TMPDIR=self.tmp,
                   VIDCURATE_CHILD_TMP=self.tmp)
        # SIGINT blocked while the child starts (it inherits this thread's mask): a Ctrl-C
        # during its interpreter's start-up, before curate.sandbox ignores SIGINT, had
        # printed a traceback from it. It unblocks SIGINT once it ignores it.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, str(child.fileno()),
                 "later" if memory_mb is None else str(memory_mb)],
                pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL)
        except BaseException:
            parent.close()
            self._remove_tmp()
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            child.close()
        self.conn = Connection(parent.detach())
        self.calls = 0
        self.ready = False
        self.memory_mb = memory_mb
        self._first_bytes: int | None = None  # address space after the first call (pools and caches set up)
        self._room = 0  # bytes it could still take then (worn)

    def bind(self, memory_mb: int) -> "Child":
        """Give a spare child its memory bound (sent now, applied once its imports are done)."""
        self.conn.send(("limit", memory_mb))
        self.memory_mb = memory_mb
        return self

    def _address_space(self) -> int | None:
        """The child's address space in bytes (:func:`address_space`); None where there is
        no ``/proc`` or the child is gone."""
        try:
            return address_space(self.proc.pid)
        except (OSError, ValueError, IndexError):
            return None

    def _address_limit(self) -> int | None:
        """The child's own ``RLIMIT_AS`` in bytes: its start-up size plus its bound, or less
        when it inherited a lower cap (a child started by work that itself runs in a sandbox
        child); None when unlimited, unknown or gone."""
        try:
            soft, _ = resource.prlimit(self.proc.pid, resource.RLIMIT_AS)
        except (OSError, AttributeError):  # gone, not allowed, or no prlimit (not Linux)
            return None
        return None if soft == resource.RLIM_INFINITY else soft

    def worn(self) -> bool:
        """Whether the child has used up, in memory it keeps between calls, more than half
        the room it had after its first call (a leak, or freed memory its allocator keeps):
        later calls would have less than half of it to work in, so :mod:`curate.guard`
        replaces it. The room is its address-space cap (``RLIMIT_AS``, which counts a
        lower cap it inherited) less its size after the first call, or ``memory_mb`` where
        the cap cannot be read. Counted from after the first call, not from start-up: what
        that call sets up for good (OpenCV's and FFmpeg's thread pools, 8 MB of stack each
        on a many-core node) is no leak, and a new child would set it up again. False
        before a call has finished or without ``/proc``."""
        now = self._address_space()
        if now is None or self.memory_mb is None:
            return False
        if self._first_bytes is None:
            self._first_bytes = now
            self._room = self.memory_mb * 1024 * 1024
            limit = self._address_limit()
            if limit is not None:
                self._room = max(0, limit - now)
            return False
        return now - self._first_bytes > self._room // 2

    def _wait_ready(self) -> tuple | None:
        """Wait for the child's start-up message (imports done, memory capped).

        The call's time limit starts only after this, so a slow start on a loaded
        machine is never mistaken for a hung decoder. None when ready, else a crash tuple.
        """
        try:
            if self.conn.poll(START_TIMEOUT_S) and self.conn.recv() == ("ready",):
                self.ready = True
                return None
        except (EOFError, OSError):
            pass
        self.proc.kill()
        return ("crash", f"worker process did not start ({ended(self.proc.wait())})")

    def run(self, fn: Callable, arg: Any, timeout_s: float) -> tuple:
        """One call: the tagged tuple of :func:`curate.sandbox.call`, or timeout/crash."""
        self.calls += 1
        if not self.ready and (failed := self._wait_ready()) is not None:
            return failed
        try:
            self.conn.send((fn, arg))
            if not self.conn.poll(timeout_s):
                return ("timeout", f"no result within {timeout_s:g} s")
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            self.proc.kill()
            text = str(exc)  # an EOFError says nothing
            return ("crash", f"worker process died ({ended(self.proc.wait())})" + (f": {text}" if text else ""))
        except BaseException:
            self.proc.kill()  # a late answer must never reach the next call
            self.proc.wait()
            raise

    def kill(self) -> None:
        """Stop the child at once (a spare child may still be importing: nothing to wait
        for) and remove its temporary folder."""
        self.conn.close()
        self.proc.kill()
        self.proc.wait()
        self._remove_tmp()

    def close(self) -> None:
        """Stop the child (killed if it does not exit at once) and remove its temporary folder."""
        self.conn.close()
        try:
            self.proc.wait(1)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._remove_tmp()


def _sweep_once() -> None:
    """Remove dead processes' scratch folders (:func:`curate.scratch.sweep`), once per process."""
    if not _SWEPT.is_set():
        _SWEPT.set()
        sweep()


def ended(code: int) -> str:
    """How a child process ended, from its ``returncode``: ``killed by SIGSEGV`` for a
    negative code (the signal), else ``exit code N``."""
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"
