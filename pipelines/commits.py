"""Per-source commits of the streaming phase: clip rows gathered per source, committed once.

Rows come back from Ray one clip at a time, in no particular order across sources; a
source is committed (:meth:`pipelines.workstore.WorkStore.commit`) when all its clip
tasks are back (each knows how many its source produced). The head start
(:mod:`pipelines.headstart`) hands over whole sources from its own thread, so commits
take a lock, and progress lines are printed from the main thread (:meth:`SourceCommits.report`).
After :meth:`SourceCommits.closing` nothing more is committed: a source still in hand
when the run fails or is interrupted is not written once the output's lease is given back.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from curate.tasks import ClipTask, changed_detail, file_stamp, stamp_changed
from pipelines.exits import signals_deferred
from pipelines.pathtext import short_names
from pipelines.progress import Progress
from pipelines.workstore import WorkStore
from schemas import ClipRecord, RejectRecord


def unseen_on_node(row: RejectRecord) -> RejectRecord:
    """``row``, or for a ``not_found`` row of a local source that this machine (the
    driver's, which listed it) sees, a ``stage_error`` row saying a node could not see it:
    a node that joined after the start-up check (:mod:`pipelines.visibility`) or a folder
    only partly shared, an error of the cluster that counts towards exit 5, not a missing
    file (found by a break test: such runs exited 0 with the sources lost)."""
    if row.reason != "not_found" or "://" in row.source_path or not os.path.isfile(row.source_path):
        return row
    return row.model_copy(update={
        "reason": "stage_error",
        "detail": f"a node of the cluster cannot see {row.source_path}, which this machine sees; "
                  f"every node must see local sources at the same path ({row.detail})"})


@dataclass
class Pending:
    """What has come back of one source so far: records, reject rows, summed stage
    timings (seconds), clip tasks seen, the source's duration (seconds) and its file's
    stamp before it was read (:func:`curate.tasks.file_stamp`; None for a URL)."""

    records: list[ClipRecord] = field(default_factory=list)
    rejects: list[RejectRecord] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    seen: int = 0
    duration_s: float = 0.0
    stamp: tuple[int, int, str] | None = None
    source_id: str = ""

    def add(self, task: ClipTask) -> None:
        """Take one clip task (or a source's marker task) of this source."""
        self.rejects += task.source_rejects
        if task.reject_row is not None:
            self.rejects.append(task.reject_row)
        elif task.record is not None:
            self.records.append(task.record)
        for k, v in task.timings.items():
            self.timings[k] = self.timings.get(k, 0.0) + v
        if task.source is not None:
            self.duration_s, self.source_id = task.source.duration_s, task.source.source_id
        if task.stamp is not None:
            self.stamp = tuple(task.stamp)
        self.seen += 1

    @property
    def length_s(self) -> float:
        """The source's length (seconds) for "hours in": what decoded plus the part a
        ``partially_decoded`` row records as lost, so the funnel's rows add up to it (with
        the decoded part alone, a file cut short lost over 1000 % of its input)."""
        lost = sum(r.duration_s or 0.0 for r in self.rejects if r.reason == "partially_decoded")
        return self.duration_s + lost


class SourceCommits:
    """Commits sources to ``store`` as their clip tasks arrive; ``progress`` gets one line
    per committed source under the ``sources`` phase."""

    def __init__(self, store: WorkStore, progress: Progress):
        self.store, self.progress = store, progress
        self._pending: dict[str, Pending] = {}
        self._lock = threading.Lock()
        self._lines: list[tuple[str, str]] = []  # (progress line, source path)
        self._closed = False
        self.names: dict[str, str] = {}  # source path -> its name in progress lines (pathtext.short_names)

    def add(self, task: ClipTask) -> None:
        """One clip task from Ray (main thread); commits its source when it is the last."""
        entry = self._pending.setdefault(task.source_path, Pending())
        entry.add(task)
        if entry.seen == task.n_in_source:
            del self._pending[task.source_path]
            self._commit(task.source_path, entry)

    def deliver(self, path: str, tasks: list[ClipTask]) -> None:
        """All clip tasks of source ``path`` at once (the head start's thread)."""
        entry = Pending()
        for task in tasks:
            entry.add(task)
        self._commit(path, entry)

    def _commit(self, path: str, entry: Pending) -> None:
        entry.rejects = [unseen_on_node(r) for r in entry.rejects]
        now = file_stamp(path)
        if stamp_changed(entry.stamp, now) and not any(r.reason == "source_changed" for r in entry.rejects):
            # changed while it was read, on a path the pass does not check (a source rejected
            # at its probe, spans extracted one by one): what was made of it is a part's
            entry.records, entry.rejects = [], [RejectRecord(
                source_path=path, source_id=entry.source_id, stage="probe", reason="source_changed",
                detail=changed_detail(entry.stamp, now), duration_s=entry.duration_s)]
        with self._lock:
            if self._closed:
                return
            self.store.commit(path, entry.records, entry.rejects, entry.timings, entry.length_s,
                              entry.stamp)
            n = len(entry.records)
            name = self.names.get(path) or short_names([path])[path]
            self._lines.append((f"{name}: {n} clip{'s' if n != 1 else ''} made, "
                                f"{len(entry.rejects)} dropped", path))

    def report(self) -> None:
        """Show the progress lines of sources committed since the last call (main thread),
        each line with its bar step: a Ctrl-C or SIGTERM meanwhile is raised once they are
        shown (:func:`pipelines.exits.signals_deferred`)."""
        with self._lock:
            lines, self._lines = self._lines, []
        with signals_deferred():
            for line, path in lines:
                self.progress.advance("sources", line, key=path)

    def close(self) -> None:
        """Commit nothing from now on (module docstring)."""
        with self._lock:
            self._closed = True

    @contextlib.contextmanager
    def closing(self) -> Iterator["SourceCommits"]:
        """No commit after this block (module docstring)."""
        try:
            yield self
        finally:
            self.close()
