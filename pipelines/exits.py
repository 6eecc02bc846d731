"""Exit codes of the ``vidcurate`` command and the errors that lead to them.

Every code says what happened, in one line on stderr:

====  =====================================================================
code  meaning
====  =====================================================================
0     success: clips kept, stage errors within the pipeline's budget
1     internal error: a bug in vidcurate (the traceback is saved to a file)
2     bad arguments, input paths or pipeline file (:class:`UsageError`), or a store the
      command cannot use (no bucket, no permission, no credentials, endpoint down:
      :func:`store_problem`), or a disk that filled during the run (``no_space`` rows:
      outputs are written, the same command redoes those sources), or sources that changed
      while they were read (``source_changed`` rows: a file still being copied), or a
      stage's model that cannot be loaded (:func:`model_problem`)
3     output in use by another run, or holding work made with other settings
4     nothing kept: every source or clip was rejected (outputs are written)
5     stage errors above ``max_stage_error_share`` of the pipeline (outputs are written)
6     the Ray cluster of ``--address`` cannot be reached, or refuses this driver (token
      authentication: no token, or another cluster's) (:class:`ClusterUnreachable`)
7     the cluster cannot give what the pipeline asks for, e.g. GPUs (:class:`InsufficientResources`)
130   interrupted (Ctrl-C); the same command resumes
143   terminated (SIGTERM once the run has read its pipeline and inputs, e.g. ``kill PID``
      or a container stopping); the same command resumes
141   the reader of the output went away (``vidcurate stats ... | head``): nothing printed
====  =====================================================================
"""

from __future__ import annotations

import contextlib
import errno
import signal
import sys
import threading
from collections.abc import Iterator, Mapping

OK, INTERNAL, USAGE, OUTPUT_IN_USE, NOTHING_KEPT, STAGE_ERRORS = 0, 1, 2, 3, 4, 5
CLUSTER_UNREACHABLE, RESOURCES, INTERRUPTED, PIPE_CLOSED, TERMINATED = 6, 7, 130, 141, 143

# Exceptions from these packages are a store's answer (credentials, endpoint, bucket), not a bug.
_STORE_PACKAGES = {"botocore", "aiobotocore", "s3fs", "gcsfs", "google", "adlfs", "azure", "aiohttp"}


class UsageError(ValueError):
    """Bad arguments or input paths: the user can fix the command line (exit code 2)."""


class InputNotFound(UsageError, FileNotFoundError):
    """A path given on the command line does not exist (exit code 2)."""


class ClusterUnreachable(ConnectionError):
    """``--address`` names no reachable Ray cluster within the time limit (exit code 6)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (exit code 143); a KeyboardInterrupt, so a run stops as after a
    Ctrl-C: committed sources kept, Ray and the sandbox children stopped."""


_ARRIVED: list[type[KeyboardInterrupt]] = []
"""The interrupts the handlers below raised and no :func:`raise_if_swallowed` has yet."""


def on_sigterm(signum, frame) -> None:
    """A SIGTERM handler: raise :class:`Terminated` (in the main thread), so the run stops
    as after a Ctrl-C and the command exits 143. The signal is also noted for
    :func:`raise_if_swallowed`."""
    _ARRIVED.append(Terminated)
    raise Terminated()


def on_sigint(signum, frame) -> None:
    """A Ctrl-C (SIGINT) handler: raise KeyboardInterrupt as Python's own does, noting it
    for :func:`raise_if_swallowed`."""
    _ARRIVED.append(KeyboardInterrupt)
    raise KeyboardInterrupt


def not_ignored(*signals: int) -> list[int]:
    """``signals`` but those this process ignores (``SIG_IGN``, inherited: a background job
    of a non-interactive shell ignores SIGINT), which every handler here leaves alone."""
    return [sig for sig in signals if signal.getsignal(sig) is not signal.SIG_IGN]


def watch_interrupts() -> None:
    """Install :func:`on_sigterm` and :func:`on_sigint` (main thread only; elsewhere
    nothing) and forget interrupts noted before. A process that ignores SIGINT (``SIG_IGN``:
    a background job of a non-interactive shell, ``cmd &`` in a script, inherits it) keeps
    ignoring it, so a Ctrl-C meant for the script does not stop its background runs (the
    handler had replaced it: a new-user trial); ``kill PID`` (SIGTERM) stops them. An
    interrupt swallowed as "unraisable" is not printed (its traceback had ended the log of
    a stopped run): it is raised again by :func:`raise_if_swallowed`; other unraisable
    errors are printed as before."""
    _ARRIVED.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)
        for sig in not_ignored(signal.SIGINT):
            signal.signal(sig, on_sigint)
        if not getattr(sys.unraisablehook, "keeps_interrupts", False):
            sys.unraisablehook = _quiet_about_interrupts(sys.unraisablehook)


def _quiet_about_interrupts(hook):
    def quiet(unraisable) -> None:
        if not (isinstance(unraisable.exc_value, KeyboardInterrupt) and _ARRIVED):
            hook(unraisable)
    quiet.keeps_interrupts = True
    return quiet


def raise_if_swallowed() -> None:
    """Raise again an interrupt that a handler raised and something swallowed: a signal
    that lands while an extension module imports is raised inside its import hooks, and
    Cython's type registration prints it as "Exception ignored" and carries on (a CI run:
    a SIGTERM during Ray's import, and the run went on to the end, exit 0). Called where
    a run goes on to its next piece of work; an interrupt that did propagate never
    reaches such a call."""
    if _ARRIVED:
        kind = Terminated if Terminated in _ARRIVED else KeyboardInterrupt
        _ARRIVED.clear()
        raise kind()


@contextlib.contextmanager
def signals_held() -> Iterator[list[int]]:
    """Inside the block, a Ctrl-C (SIGINT) or SIGTERM is only recorded (in the list it
    gives), not raised: for a run that is already stopping (its clean-up must not be cut
    short by a second Ctrl-C, which had let a cancelled call be retried in a new sandbox
    child). Only on the main thread (signal handlers live there); elsewhere nothing is held."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return
    previous = {sig: signal.signal(sig, lambda signum, frame: got.append(signum))
                for sig in not_ignored(signal.SIGINT, signal.SIGTERM)}
    try:
        yield got
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Inside the block a Ctrl-C or SIGTERM waits (:func:`signals_held`); the first that came
    is raised at the block's end, through the handler in force before it. For a short piece
    of output that must not be cut in two: a Ctrl-C between a source's progress line and
    its bar step had printed the line twice and left the bar one behind (a break test).
    Raised also when the block fails (the signal wins over its error): a SIGTERM held while
    a training's loader failed to shut down had been lost, and the run ended as an internal
    error, not 143 (a review)."""
    got: list[int] = []
    try:
        with signals_held() as got:
            yield
    finally:
        if got:
            signal.raise_signal(got[0])


class InsufficientResources(RuntimeError):
    """A stage asks for more than any node or the whole cluster has (exit code 7)."""


_STOP_NOTE: list[str] = []  # what a run stopped now should say instead of its usual line (stop_note)


def stop_note(line: str | None) -> None:
    """Set (or clear, with None) the ``interrupted: ...`` line a stop says from now on, for
    steps after which the usual one misleads: a Ctrl-C while ``report.html`` was written
    said "committed sources are kept; run the same command again to resume" when the
    shards, index and manifest were complete (a new-user walk-through)."""
    _STOP_NOTE[:] = [line] if line else []


def stop_line(own: str | None, terminated: bool) -> str:
    """What a command stopped by Ctrl-C (``terminated`` False) or SIGTERM says: ``own``, its
    ``interrupted: ...`` line (a run's when None: the :func:`stop_note` set, else the resume
    advice), with "terminated (SIGTERM)" for "interrupted" after a SIGTERM."""
    own = own or (_STOP_NOTE[0] if _STOP_NOTE else
                  "interrupted: committed sources are kept; run the same command again to resume")
    return f"terminated (SIGTERM){own[len('interrupted'):]}" if terminated and own.startswith("interrupted") else own


def root_cause(exc: BaseException) -> BaseException:
    """The worker's own exception inside a Ray task error (``RayTaskError.cause``), else ``exc``."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) and cause is not exc else exc


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` of :func:`root_cause` (a Ray task error's text
    carries the worker's whole traceback)."""
    exc = root_cause(exc)
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def store_problem(exc: BaseException) -> bool:
    """Whether ``exc`` (or the worker exception in it) is a file system or object store
    refusing: a missing bucket or folder, no permission, a read-only or full file system, no
    or wrong credentials, an endpoint that does not answer. Such a run fails with exit code
    2 and one line."""
    exc = root_cause(exc)
    if isinstance(exc, (PermissionError, FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return True
    if isinstance(exc, OSError) and exc.errno in _FULL_OR_READ_ONLY:  # a break test: "internal error" before
        return True
    return type(exc).__module__.split(".")[0] in _STORE_PACKAGES


_FULL_OR_READ_ONLY = {errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def store_hint(exc: BaseException) -> str:
    """What to check after a :func:`store_problem`'s line: for a local file system error
    (an ``OSError`` naming a path, not a URL) the path, its permissions and free space;
    otherwise also the bucket, credentials and endpoint (a new-user trial: a folder where
    ``report.html`` goes was told to check credentials)."""
    cause = root_cause(exc)
    name = getattr(cause, "filename", None)
    if isinstance(cause, OSError) and isinstance(name, str) and "://" not in name:
        return "check the path, its permissions and free space"
    return "check the path or URL, the bucket, credentials and endpoint; every node needs them"


def model_problem(exc: BaseException) -> str | None:
    """What is wrong with a stage's model when ``exc`` is, or carries in its text, a
    :class:`curate.captioning.check.ModelUnavailable` (a Ray actor that failed to load its
    model passes on only the text of that error); None otherwise. Such a run fails with
    exit code 2 and this line."""
    from curate.captioning.check import MARKER, ModelUnavailable  # noqa: PLC0415 - a small module

    cause = root_cause(exc)
    if isinstance(cause, ModelUnavailable):
        return str(cause)
    text = str(exc)
    at = text.find(MARKER)
    return text[at + len(MARKER):].splitlines()[0].strip() if at >= 0 else None

EMPTY_OUTPUT = "an empty path (an unset shell variable?); name the output folder"
"""Why an empty ``--output`` is refused (it would have meant the current folder)."""


def run_outcome(clips_kept: int, rejects_by_reason: Mapping[str, int], max_stage_error_share: float
                ) -> tuple[int, str | None]:
    """The exit code of a finished run and its one-line message (None for success).

    ``rejects_by_reason`` counts reject rows by ``stage:reason`` (the manifest's counts).
    The stage-error share is ``stage_error`` rows over kept clips plus all reject rows;
    it fails the run when it is above ``max_stage_error_share`` (0..1).
    """
    errors = sum(n for key, n in rejects_by_reason.items() if key.endswith(":stage_error"))
    total = clips_kept + sum(rejects_by_reason.values())
    if errors and errors > max_stage_error_share * total:
        where = sorted({key.split(":")[0] for key in rejects_by_reason if key.endswith(":stage_error")})
        return STAGE_ERRORS, (f"{errors} of {total} sources/clips failed with stage_error in "
                              f"{', '.join(where)} (over max_stage_error_share "
                              f"{max_stage_error_share:g}); see rejects.parquet for each message")
    full = sum(n for key, n in rejects_by_reason.items() if key.endswith(":no_space"))
    if full:  # the environment, not the sources: what was written stands, the same command redoes the rest
        return USAGE, (f"storage: {full} sources/clips could not be worked on because a disk filled "
                       "(no_space in rejects.parquet: the node's scratch folder, TMPDIR, or the "
                       "output); free space and run the same command again")
    moved = sum(n for key, n in rejects_by_reason.items() if key.endswith(":source_changed"))
    if moved:  # the inputs were not ready: what was written stands, the same command redoes the rest
        return USAGE, (f"inputs: {moved} source{'s' if moved != 1 else ''} changed while being read "
                       "(a file still being copied?; source_changed in rejects.parquet); run the same "
                       "command again once the files are complete")
    if clips_kept == 0:
        return NOTHING_KEPT, "no clip kept: every source or clip was rejected (see rejects.parquet)"
    return OK, None
