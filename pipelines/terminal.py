"""Keep every process of a run away from the user's terminal.

A Ray worker runs in a process group of its own. If it inherits the terminal as
standard input and anything in it reads from there, the kernel stops it (SIGTTIN) and
the run hangs with no message. PySceneDetect does exactly that at import time: it runs
``ffmpeg -v quiet`` to see whether FFmpeg is on PATH, and that child inherits the
worker's stdin. Two guards:

- :func:`detach_stdin` points the ``vidcurate`` process's own fd 0 at ``/dev/null``
  before Ray starts, and :func:`stdin_detached` does so for the moment a local Ray is
  started (also from an interactive Python, whose terminal is given back afterwards),
  so the raylet and every worker it forks inherit ``/dev/null``.
- :func:`worker_setup` is Ray's ``worker_process_setup_hook`` when a run joins a
  cluster (``--address``), whose nodes may have been started from a terminal: each
  worker points its own fd 0 at ``/dev/null`` before it runs any stage. A local Ray does
  without it: a ``runtime_env`` keeps the workers Ray starts with the node from serving
  the run, and new ones cost about a second to start.

Child processes the project starts itself (:mod:`curate.guard`) get
``stdin=subprocess.DEVNULL`` explicitly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Ray ``runtime_env`` entry that runs :func:`worker_setup` in every worker process (clusters).
WORKER_SETUP_HOOK = "pipelines.terminal.worker_setup"


def _is_devnull(fd: int) -> bool:
    try:
        st, null = os.fstat(fd), os.stat(os.devnull)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (null.st_dev, null.st_ino)


def detach_stdin() -> bool:
    """Point this process's fd 0 at ``/dev/null`` (unless it already is).

    Returns True when fd 0 was replaced. Python's ``sys.stdin`` object keeps working
    and reads end-of-file from then on. Only the command-line entry point calls this:
    a library caller's interactive stdin is left alone.
    """
    if _is_devnull(0):
        return False
    null = os.open(os.devnull, os.O_RDONLY)
    if null == 0:  # fd 0 was closed: /dev/null is in place, but (PEP 446) not inherited
        os.set_inheritable(0, True)  # else every child starts with fd 0 closed and reuses it
        return True
    try:
        os.dup2(null, 0)  # inheritable
    finally:
        os.close(null)
    return True


@contextmanager
def stdin_detached() -> Iterator[None]:
    """Within the block fd 0 of this process is ``/dev/null``; afterwards it is what it
    was (``/dev/null`` stays when fd 0 was closed). Processes started inside the block (a
    local Ray's raylet, and so every worker it forks later) keep ``/dev/null``; an
    interactive caller keeps its terminal."""
    try:
        saved = os.dup(0)
    except OSError:  # fd 0 closed (e.g. a daemon's): nothing to give back
        saved = None
    try:
        detach_stdin()
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 0)
            os.close(saved)


def worker_setup() -> None:
    """Ray worker process setup hook: fd 0 of this worker becomes ``/dev/null``."""
    detach_stdin()


def stdin_is_detached() -> bool:
    """True when fd 0 of this process is ``/dev/null`` (used by tests)."""
    return _is_devnull(0)


def show_cursor() -> None:
    """Show the terminal's cursor again (stderr a terminal): a progress spinner hides it
    while it runs, and a signal that comes while one starts leaves it hidden (a break test:
    Ctrl-C as "writing report.html" began). Harmless when it shows already."""
    if sys.stderr.isatty():
        sys.stderr.write("\x1b[?25h")
        sys.stderr.flush()
