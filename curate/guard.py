"""Run one unit of codec work in a sandbox process with a time limit and a memory bound.

A decoder that hangs inside FFmpeg, crashes, or allocates without bound must cost only
its own source (DESIGN.md: "a run with bad files finishes the good ones"). Threads
cannot be interrupted inside C code, so the work runs in a sandbox process
(:mod:`curate.sandbox`): one long-lived child per worker process and memory bound (per
thread, for threads that ask: :func:`own_children`), started once with the curation
modules imported, so a call costs a round trip of pickles, not a new interpreter. The
child's address space is capped at its size at start plus ``memory_mb``
(``RLIMIT_AS``), so a ballooning decoder fails its own
allocation instead of taking the node down. A child that overruns its time or dies is
killed and replaced, and so is one whose call raised an unexpected exception. A child
is also replaced when the memory it keeps between calls has taken more than half the
room it had after its first call (:meth:`curate.child.Child.worn`), and after
``_CALLS_PER_CHILD`` calls whatever its
size: a new child costs its imports, about 0.7 CPU-s (an earlier rule of 64 calls
started 8 extra children in a run over 300 one-second files, whose children stayed at
150-160 MB resident over 150 calls each without it; docs/benchmarks.md). The
time limit counts from the moment the child is ready (imports done), so it measures the
work alone, not the start-up of a new child on a loaded machine. Each child's temporary
files (the pass's frame spill) are in a folder of its own, removed when the child ends,
killed or not (:mod:`curate.child`).

A call that times out, whose child dies (signal) or runs out of memory is retried
``retries`` times; then the task is rejected with ``timeout`` or ``decode_error``. A
:class:`~curate.stage.RejectError` or :class:`~curate.codec.CodecError` raised by the
work is a verdict, not an accident: it is passed on at once, without a retry.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from curate.child import SANDBOX_MODULE
from curate.child import Child as _Sandbox

_CALLS_PER_CHILD = 1024
_SANDBOX_MODULE = SANDBOX_MODULE  # run with ``python -m``; tests swap in a slow starter


class Limits(BaseModel):
    """Per-call limits: ``timeout_s`` wall seconds, ``memory_mb`` of extra address space,
    ``retries`` after a timeout or crash."""

    model_config = ConfigDict(extra="forbid")
    timeout_s: float = Field(600.0, gt=0, le=86400)
    memory_mb: int = Field(4096, ge=64, le=1 << 20)
    retries: int = Field(1, ge=0, le=3)


class Cancelled(Exception):
    """The caller's process cancelled its sandboxed work (:func:`cancelled`)."""


class LimitExceeded(Exception):
    """The work timed out, crashed or ran out of memory on every attempt.

    ``reason`` is ``timeout`` or ``decode_error``; ``detail`` says what happened.
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


_SANDBOXES: dict[int | None, _Sandbox] = {}  # by memory bound; None: the spare child
_CANCELLED = threading.Event()
_LOCAL = threading.local()  # .boxes: the children of a thread inside own_children()
_OWN: dict[int, dict[int | None, _Sandbox]] = {}  # those threads' children, by thread id
_OWN_LOCK = threading.Lock()


def _boxes() -> dict[int | None, _Sandbox]:
    """The children the calling thread uses: its own inside :func:`own_children`, else the
    process's (``_SANDBOXES``)."""
    return getattr(_LOCAL, "boxes", _SANDBOXES)


def _close(boxes: dict[int | None, _Sandbox]) -> None:
    while boxes:
        bound, box = boxes.popitem()
        if bound is None:  # a spare: no call in hand, and it may still be importing
            box.kill()
        else:
            box.close()


def close_all() -> None:
    """Stop every sandbox child the calling thread uses (the process's, or its own inside
    :func:`own_children`); the next call starts a new one."""
    _close(_boxes())


@contextlib.contextmanager
def own_children(adopt: bool = False) -> Iterator[None]:
    """Inside the block, the calling thread's sandboxed calls go to children of its own, so
    that several threads of one process (a driver's local passes, :mod:`pipelines.headstart`)
    each run a call at a time in parallel. ``adopt``: the thread takes over the process's
    children first (those :func:`prestart` started). A spare child left in the process is
    taken over by a thread's first call. The thread's children are stopped when the block
    ends; :func:`cancelled` kills them too."""
    boxes: dict[int | None, _Sandbox] = {}
    with _OWN_LOCK:
        if adopt:
            boxes.update(_SANDBOXES)
            _SANDBOXES.clear()
        _OWN[threading.get_ident()] = boxes
    _LOCAL.boxes = boxes
    try:
        yield
    finally:
        del _LOCAL.boxes
        with _OWN_LOCK:
            _OWN.pop(threading.get_ident(), None)
        _close(boxes)


def prestart(memory_mb: int | None = None) -> None:
    """Start this process's sandbox child for ``memory_mb`` now, unless one is alive, and
    return at once: its imports (about 1 CPU-s) then overlap the caller's own start-up
    (a run's driver imports its modules meanwhile, on one core). The first call for that
    bound finds it ready; :func:`close_all` stops it when no call comes.

    ``memory_mb`` None: a spare child, started before the bound is known (a run's driver
    starts one before it reads its pipeline file); the next :func:`prestart` or call for
    any bound takes it over and gives it that bound, which counts from its size after its
    imports, as for any child."""
    boxes = _boxes()
    box = boxes.get(memory_mb)
    if box is None or box.proc.poll() is not None:
        boxes[memory_mb] = _new_sandbox(memory_mb)


def _new_sandbox(memory_mb: int | None) -> _Sandbox:
    """A child for ``memory_mb``: the spare one (:func:`prestart`) when it is alive, else a new one."""
    spare = None
    if memory_mb is not None:
        with _OWN_LOCK:  # this thread's spare, else the process's
            spare = _boxes().pop(None, None) or _SANDBOXES.pop(None, None)
    if spare is not None:
        try:
            if spare.proc.poll() is None:
                return spare.bind(memory_mb)
        except OSError:  # it died just now
            pass
        spare.kill()
    return _Sandbox(memory_mb, _SANDBOX_MODULE)


@contextlib.contextmanager
def cancelled() -> Iterator[None]:
    """Inside the block, sandboxed work of this process is cancelled: every sandbox child
    is killed at once and a call in progress (on another thread) or a new one raises
    :class:`Cancelled` instead of being retried. A run that stops early uses it so that
    no child of its own outlives it or writes into its output afterwards."""
    halt()
    try:
        yield
    finally:
        _CANCELLED.clear()


def halt() -> None:
    """Kill every sandbox child of this process and cancel its sandboxed work until a
    :func:`cancelled` block ends (calls raise :class:`Cancelled`, no retry, no new child).
    Takes no lock and does not wait: for a signal handler, whose process then stops its
    work under :func:`cancelled`."""
    _CANCELLED.set()
    for boxes in [_SANDBOXES, *list(_OWN.values())]:  # list() copies: atomic, no lock needed
        for box in list(boxes.values()):
            box.proc.kill()


def _attempt(fn: Callable, arg: Any, limits: Limits) -> tuple:
    if _CANCELLED.is_set():
        raise Cancelled("sandboxed work cancelled")
    boxes = _boxes()
    box = boxes.get(limits.memory_mb)
    if box is None or box.proc.poll() is not None:  # none yet, or it died or was killed
        if box is not None:
            box.close()  # its temporary folder goes with it
        box = boxes[limits.memory_mb] = _new_sandbox(limits.memory_mb)
        if _CANCELLED.is_set():  # cancelled while it started: cancelled() may not have seen it
            box.proc.kill()
            raise Cancelled("sandboxed work cancelled")
    msg = box.run(fn, arg, limits.timeout_s)
    # an unexpected exception ("error") may have left the child short of memory (OpenCV
    # reports a failed allocation as its own error) or in a bad state: the next call gets a new one
    if msg[0] in ("timeout", "crash", "memory", "error") or box.calls >= _CALLS_PER_CHILD or box.worn():
        if msg[0] == "timeout":
            box.proc.kill()
        box.close()
        del boxes[limits.memory_mb]
    if msg[0] == "memory":
        return ("memory", f"over the {limits.memory_mb} MB memory bound")
    return msg


def run_limited(fn: Callable[[Any], Any], arg: Any, limits: Limits) -> Any:
    """``fn(arg)`` in a child process under ``limits`` (module docstring).

    ``fn`` and ``arg`` must pickle. Returns ``fn``'s result. Raises
    :class:`CodecError` for a verdict of the work itself (no retry),
    :class:`LimitExceeded` after the last failed attempt, and RuntimeError for an
    unexpected exception in the work (its message included).
    """
    failures = []
    for _ in range(limits.retries + 1):
        msg = _attempt(fn, arg, limits)  # raises Cancelled once the process cancels its work
        if msg[0] == "ok":
            return msg[1]
        if msg[0] == "reject":
            from curate.codec.errors import CodecError  # noqa: PLC0415 - PyAV's import: not before a run needs it

            raise CodecError(msg[1], msg[2])
        if msg[0] == "error":
            raise RuntimeError(msg[1])
        failures.append(msg)
    kind, detail = failures[-1]
    reason = "timeout" if kind == "timeout" else "decode_error"
    raise LimitExceeded(reason, f"{detail} ({len(failures)} attempts)")
