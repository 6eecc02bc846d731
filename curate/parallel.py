"""Parallel calls for the driver's own steps (dedup's hash-band search and pair verification).

``curate/`` imports no Ray (DESIGN.md): the runner installs how calls run in parallel
(:func:`workers`) for the steps it runs on the driver after the per-source phase: Ray
tasks on a run that started or joined Ray (:func:`pipelines.raytasks.ray_calls`), or the
sandbox children of the run's local passes on a local run without Ray
(:meth:`pipelines.headstart.HeadStart.calls`). Without one installed, every call runs
here, one after another, and :func:`cpus` is 1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

Calls = Callable[[Callable, list[tuple], tuple], list]
"""``run(fn, calls, shared)`` -> ``[fn(*shared, *args) for args in calls]``, in order:
each call in a process of its own share (1 CPU); ``shared`` leading arguments are sent
once where the executor can (Ray's object store), else with each call."""

_RUN: Calls | None = None
_CPUS = 1


def cpus() -> int:
    """CPUs the installed executor runs calls on at once (1 when none is installed)."""
    return _CPUS if _RUN is not None else 1


def available() -> bool:
    """Whether an executor is installed, so that calls can run in parallel."""
    return _RUN is not None


def run_calls(fn: Callable, calls: list[tuple], shared: tuple = ()) -> list:
    """``[fn(*shared, *args) for args in calls]``, results in order: on the installed
    executor when there are two calls or more, else here. ``fn`` must be a module-level
    function (it is pickled by name). An exception of a call is raised here."""
    if _RUN is None or len(calls) < 2:
        return [fn(*shared, *args) for args in calls]
    return _RUN(fn, list(calls), tuple(shared))


@contextlib.contextmanager
def workers(run: Calls, n_cpus: int) -> Iterator[None]:
    """Inside the block, :func:`run_calls` uses ``run`` and :func:`cpus` is ``n_cpus``
    (at least 1). The previous executor is back when the block ends, even on an error."""
    global _RUN, _CPUS
    saved = _RUN, _CPUS
    _RUN, _CPUS = run, max(1, int(n_cpus))
    try:
        yield
    finally:
        _RUN, _CPUS = saved


def apply_call(job: tuple[Callable, tuple]) -> tuple[bool, Any]:
    """``(True, fn(*args))`` for ``job = (fn, args)``, or ``(False, exception)`` when it
    raises: a sandbox child (:mod:`curate.sandbox`) runs it, so that the caller raises the
    work's own exception type (an OSError stays an OSError), as Ray's task errors do. A
    MemoryError is not caught: the sandbox reports it as over its memory bound."""
    fn, args = job
    try:
        return True, fn(*args)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - handed back to the caller, who raises it
        import pickle  # noqa: PLC0415

        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot travel: its text does
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return False, exc
