"""Which clips the report shows as thumbnails, and what each tile says.

A bounded, stable sample: the kept clips with the smallest clip ids (ids are content
hashes, so this is a hash-random sample that the same run always gives), and per
``stage:reason`` the first reject rows in clip-id (then source path) order. Tiles carry
the caption (kept) or the reject detail (dropped) and the clip's scores; the thumbnail
itself is filled in later (:func:`pipelines.report_html.page.fill_thumbnails`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from pipelines.pathtext import short_names
from pipelines.report_html.data import SCORES, RunData, column, texts


@dataclass
class Tile:
    """One thumbnail tile. ``kind``: ``kept`` or ``dropped``; ``span``: (start_s, end_s)
    in the source, seconds (None for a whole source); ``text``: caption or reject detail;
    ``scores``: finite scores only; ``image``: JPEG data URI once filled (None when no
    frames exist); ``note``: where the frames came from, or why there are none."""

    kind: str
    clip_id: str | None
    source: str
    span: tuple[float, float] | None
    text: str
    scores: dict[str, float] = field(default_factory=dict)
    shard: str | None = None
    duplicate_of: str | None = None
    image: str | None = None
    note: str = ""
    name: str = ""  # the source's name on the page (source_names); its file name when empty

    @property
    def title(self) -> str:
        """``source name @ start-end s`` (or the source name alone)."""
        name = self.name or os.path.basename(self.source.rstrip("/")) or self.source
        return f"{name} @ {self.span[0]:.2f}-{self.span[1]:.2f} s" if self.span else name


def _scores(table, rows: list[int]) -> list[dict[str, float]]:
    cols = {s: column(table, f"scores.{s}") for s in SCORES}
    return [{s: float(cols[s][i]) for s in SCORES if math.isfinite(cols[s][i])} for i in rows]


def _spans(table, rows: list[int]) -> list[tuple[float, float] | None]:
    start, end = column(table, "span.start_s"), column(table, "span.end_s")
    return [(float(start[i]), float(end[i])) if math.isfinite(start[i]) else None for i in rows]


def source_names(run: RunData) -> dict[str, str]:
    """Each source's name on the page (:func:`pipelines.pathtext.short_names` over the run's
    sources): its file name, or the folders below the common one where two sources share
    it (a walk-through: a copy dropped as an identical source read as a file duplicating
    itself, "bottle-detection.mp4 ... same clip as in /in/bottle-detection.mp4")."""
    paths = {p for p in texts(run.kept, "source.path") + texts(run.rejects, "source_path") if p}
    return short_names(sorted(paths))


def kept_tiles(run: RunData, limit: int) -> list[Tile]:
    """Tiles of at most ``limit`` kept clips (the smallest clip ids)."""
    t = run.kept
    ids = texts(t, "clip_id")
    rows = sorted(range(len(ids)), key=ids.__getitem__)[:limit]
    captions, sources, shards = texts(t, "caption.text"), texts(t, "source.path"), texts(t, "shard")
    names = source_names(run)
    return [Tile("kept", ids[i], sources[i] or "", span, captions[i] or "(no caption)", sc, shards[i],
                 name=names.get(sources[i] or "", ""))
            for i, span, sc in zip(rows, _spans(t, rows), _scores(t, rows))]


def dropped_tiles(run: RunData, limit: int) -> list[dict]:
    """Per ``stage:reason`` (pipeline stage order, then reason): ``{"stage", "reason",
    "total", "tiles"}`` with tiles of at most ``limit`` reject rows."""
    t = run.rejects
    stages, reasons = texts(t, "stage"), texts(t, "reason")
    ids, sources = texts(t, "clip_id"), texts(t, "source_path")
    details, dups = texts(t, "detail"), texts(t, "duplicate_of")
    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(stages, reasons)):
        groups.setdefault(key, []).append(i)
    order = {name: i for i, name in reversed(list(enumerate(run.stage_order)))}
    out, names = [], source_names(run)
    for stage, reason in sorted(groups, key=lambda k: (order.get(k[0], len(order)), k[1])):
        members = groups[(stage, reason)]
        rows = sorted(members, key=lambda i: (ids[i] or "", sources[i] or ""))[:limit]
        tiles = [Tile("dropped", ids[i], sources[i] or "", span, details[i] or reason, sc, None, dups[i],
                      name=names.get(sources[i] or "", ""))
                 for i, span, sc in zip(rows, _spans(t, rows), _scores(t, rows))]
        out.append({"stage": stage, "reason": reason, "total": len(members), "tiles": tiles,
                    "hours": float(np.nansum(column(t, "duration_s")[members])) / 3600})
    return out
