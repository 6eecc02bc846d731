"""A last line for a run that ends without one: the driver killed under it.

A driver that joined a cluster can be ended by Ray's own core without a word: when the
raylet of its node dies (the head node killed under a driver that runs there), Ray's
core worker logs "connection to the plasma store is failed. Terminate the process" in
its own log file and exits at once, and the command ends with exit code 1 and nothing
on stderr (a cluster break test). No handler of this process runs then, so a small
child forked before Ray starts waits on a pipe whose write end only this process holds:
the command writes one byte to it when it ends as Python ends (any exit code, Ctrl-C and
SIGTERM included: :mod:`atexit`), and the child prints :data:`ABRUPT` to stderr when the
pipe closes without it (Ray's quick exit, SIGKILL, the OOM killer). The child ignores
Ctrl-C (the terminal sends it to the whole group) and exits as soon as the pipe closes,
so it never outlives the command by more than that.
"""

from __future__ import annotations

import atexit
import os
import signal

ABRUPT = ("error: the run was ended from outside: killed (SIGKILL, out of memory), or by Ray when this "
          "node's raylet or the head node went away (Ray's lines above, or the driver's log, "
          "python-core-driver-*.log under the Ray session's logs/, say which). Committed sources are "
          "kept: once the cluster is up again, run the same command to resume\n")


def watch_abrupt_end(message: str = ABRUPT) -> int:
    """Fork the watcher child (module docstring); returns its pid (0 where ``fork`` is
    missing). Call once, before Ray starts, in the process that runs the command."""
    if not hasattr(os, "fork"):
        return 0
    read, write = os.pipe()  # not inherited by exec'd processes (PEP 446)
    pid = os.fork()
    if pid == 0:  # the watcher: no Python clean-up of the parent's state, only read and write
        try:
            os.close(write)
            for lo, hi in ((3, read), (read + 1, os.sysconf("SC_OPEN_MAX"))):  # the parent's pipes and sockets:
                os.closerange(lo, hi)  # a child of the parent's waiting for their end must not wait on this one
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            got = b""
            while chunk := os.read(read, 64):
                got += chunk
            if b"." not in got:
                os.write(2, message.encode())
        finally:
            os._exit(0)
    os.close(read)
    atexit.register(_ended, write)
    return pid


def _ended(write: int) -> None:
    """The command ends as Python ends: tell the watcher, and close the pipe."""
    try:
        os.write(write, b".")
        os.close(write)
    except OSError:
        pass
