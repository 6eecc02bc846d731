"""Head start: per-source work done by the driver while a local Ray starts.

Starting a local Ray (GCS, raylet, agents) and its first workers takes 3-5 s on a small
machine, mostly waiting, before the first source is decoded; for a run over a few
minutes of video that is a third of the wall time (issue 10). Meanwhile the driver takes
sources from the small end of the plan's order (:func:`pipelines.rows.largest_first`:
the large ones stay at the front of Ray's queue) and runs exactly the plan's row
functions on them (:meth:`pipelines.rows.PassSteps.run_local`: probe and the one-decode
pass in this process's sandbox children, :mod:`curate.guard`, with the same time and
memory limits), one source at a time. When Ray is ready it stops taking sources; the
one in hand finishes alongside Ray's work, and Ray gets the rest. Output is the same
either way (same rows, committed per source the same way).

Only for a local Ray this process starts (with ``--address`` the driver's machine may
do no work at all) and only when every per-source step is a plain CPU step on the
one-decode path (:meth:`~pipelines.rows.PassSteps.local_ok`); ``ray.head_start: false``
in the pipeline turns it off.

:func:`prestart_sandboxes` starts the head start's sandbox children while the command
is still importing its own modules, and the head start begins before the driver imports
Ray and Ray Data (the row functions, :mod:`pipelines.rows`, import neither; the runner
imports them once the head start has its first source): the child's imports and first
source use the core that the driver's imports leave idle. On a 2-core machine the child
had waited about a second for those imports before its first source.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from curate import guard
from curate.tasks import ClipTask
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
    """

    def __init__(self, steps: PassSteps, work_dir: str, order: list[str], deliver: Deliver):
        self.steps, self.work_dir, self.deliver = steps, work_dir, deliver
        self._queue = list(order)
        self._taken: list[str] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="vidcurate-head-start", daemon=True)

    def start(self) -> "HeadStart":
        """Begin taking sources."""
        self._thread.start()
        return self

    def _next(self) -> str | None:
        with self._lock:
            if self._stopped.is_set() or not self._queue:
                return None
            path = self._queue.pop()
            self._taken.append(path)
            return path

    def _run(self) -> None:
        try:
            while (path := self._next()) is not None:
                tasks = [loads(row["task"]) for row in self.steps.run_local(path, self.work_dir)]
                self.deliver(path, tasks)
        except BaseException as exc:  # noqa: BLE001 - raised again on the main thread by join()
            self.error = exc
        finally:
            guard.close_all()  # this process's sandbox children: Ray's workers have their own

    def stop(self) -> list[str]:
        """Take no further source; returns the sources taken (finished or in hand)."""
        with self._lock:
            self._stopped.set()
            return list(self._taken)

    def cancel(self, timeout_s: float = 10.0) -> None:
        """Stop now (the run is failing or interrupted): take no further source, kill this
        process's sandbox children so the source in hand ends at once (its result is
        not committed: :meth:`pipelines.commits.SourceCommits.closing`), and wait up to
        ``timeout_s`` seconds for the thread. The work's own exception is not raised."""
        self.stop()
        with guard.cancelled():
            self._thread.join(timeout_s)

    def join(self) -> None:
        """Wait for the source in hand; raise the work's exception, if there was one."""
        self._thread.join()
        if self.error is not None:
            raise self.error


def prestart_sandboxes(pipeline: "Pipeline", address: str | None) -> bool:
    """Start this process's sandbox children for a head start's probe and one-decode pass
    (:func:`curate.guard.prestart`, one per memory bound) when a head start may follow: no
    ``address``, ``ray.head_start`` on, extract on the one-decode path. Returns whether
    any was started; :func:`curate.guard.close_all` stops them when no head start comes."""
    from curate.onepass import limits_for, plain_cpu_steps  # noqa: PLC0415 - light: numpy and PyAV only

    probe, split, extract = pipeline.stages[:3]
    if address or not pipeline.ray.head_start or not plain_cpu_steps(pipeline.stages[:2] + pipeline.clip_stages()):
        return False  # the cases where Runner makes no head start (PassSteps.local_ok)
    bounds = {lim.memory_mb for lim in (probe.limits, limits_for(split, extract, 0.0)) if lim is not None}
    for memory_mb in sorted(bounds):
        guard.prestart(memory_mb)
    return bool(bounds)
