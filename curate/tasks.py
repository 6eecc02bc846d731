"""Work items that flow between stages: one per source, then one per clip.

A :class:`SourceTask` goes through probe and split; the runner fans it out into one
:class:`ClipTask` per span. Tasks carry small arrays only (the frame sample and the
motion sample, short side <= 224 px), never full-resolution frames: the encoded
clip lives in the output store at :func:`curate.extract.clip_path` under ``work_dir``
(a local folder or an object-store URL, :mod:`curate.store`), written by the worker
that extracted it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

import numpy as np

from schemas import ClipRecord, RejectRecord, Scores, SourceInfo, Span


@dataclass
class SourceTask:
    """A source video on its way through probe and split.

    ``spans``: the clips the split stage found. ``rejects``: rows for the source
    itself or for spans dropped at split (e.g. ``too_short``). ``stamp``: the local
    file's :func:`file_stamp` as the probe's node found it before reading it (None for a
    URL), to tell a file that changed since (:func:`stamp_changed`).
    """

    path: str
    work_dir: str
    source: SourceInfo | None = None
    spans: list[Span] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)
    rejects: list[RejectRecord] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    failed: bool = False
    stamp: tuple[int, int, str] | None = None

    @property
    def rejected(self) -> bool:
        """True once the source itself was dropped."""
        return self.failed

    def reject(self, stage: str, reason: str, detail: str = "") -> None:
        """Drop the whole source with a reason."""
        self.failed = True
        self.rejects.append(RejectRecord(
            source_path=self.path, source_id=self.source.source_id if self.source else "",
            stage=stage, reason=reason, detail=detail,
            duration_s=self.source.duration_s if self.source else 0.0,
        ))


@dataclass
class ClipTask:
    """A clip on its way through extract, score, embed, filter and caption.

    ``frames``: the frame sample, ``(N, h, w, 3) uint8`` RGB with ``frame_times``
    (seconds from clip start). ``motion``: the motion sample, ``(M, h, w) uint8``
    luma at a few fps with ``motion_times``. ``record`` is filled by extract.
    ``source_rejects`` carries the source's own reject rows on the first clip task
    of a source so they reach the driver, with the source's ``stamp``
    (:attr:`SourceTask.stamp`); ``n_in_source`` is how many clip tasks the source
    produced (the driver commits a source when all have arrived).
    """

    source: SourceInfo | None
    span: Span | None
    clip_id: str
    work_dir: str
    n_in_source: int = 1
    record: ClipRecord | None = None
    frames: np.ndarray | None = None
    frame_times: list[float] = field(default_factory=list)
    motion: np.ndarray | None = None
    motion_times: list[float] = field(default_factory=list)
    scores: Scores = field(default_factory=Scores)
    reject_row: RejectRecord | None = None
    source_rejects: list[RejectRecord] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    source_path: str = ""
    stamp: tuple[int, int, str] | None = None

    @property
    def rejected(self) -> bool:
        """True when the clip was dropped or this task only carries source rejects."""
        return self.reject_row is not None or self.span is None

    def reject(self, stage: str, reason: str, detail: str = "", duplicate_of: str | None = None) -> None:
        """Drop the clip with a reason; the scores measured so far are kept in the row."""
        scores = self.record.scores if self.record is not None else self.scores
        self.reject_row = RejectRecord(
            source_path=self.source_path or (self.source.path if self.source else ""),
            source_id=self.source.source_id if self.source else "",
            clip_id=self.clip_id, stage=stage, reason=reason, detail=detail, span=self.span,
            scores=scores, duplicate_of=duplicate_of,
            duration_s=self.span.duration_s if self.span else 0.0,
        )

    def drop_arrays(self) -> None:
        """Free the frame and motion samples (after the last stage that needs them)."""
        self.frames = None
        self.motion = None


def file_stamp(path: str) -> tuple[int, int, str] | None:
    """``(size in bytes, modification time in ns, host name)`` of the local file ``path``
    as this machine sees it; None for a URL (an object is written whole) or a file that
    cannot be seen here."""
    if "://" in path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, socket.gethostname()


def stamp_changed(before: tuple | None, now: tuple | None) -> bool:
    """Whether the file of stamp ``before`` (:func:`file_stamp`) is another now: its size
    differs, or, seen from the same machine, its mtime. Copies of a dataset on each node of
    a cluster (no shared disk) have one size but each its own mtime, so mtimes of two
    machines are never compared. False when either stamp is unknown."""
    if before is None or now is None:
        return False
    return before[0] != now[0] or (before[2] == now[2] and before[1] != now[1])


def changed_detail(before: tuple, now: tuple) -> str:
    """The ``source_changed`` row's detail from a file's stamps (:func:`file_stamp`) when
    it was read and now."""
    what = (f"{before[0]} bytes when it was read, {now[0]} now" if before[0] != now[0]
            else "the same size but modified since it was read")
    return f"{what} (a file still being copied, or rewritten): the next run curates it again"
