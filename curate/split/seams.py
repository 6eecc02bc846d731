"""Seams: straight lines across the whole picture, and their tracks across the frame.

A cover or a reveal (:mod:`curate.split.slides`), a push slide and a hard-edged wipe show
a seam between the outgoing and the incoming shot: a straight line from one side of the
picture to the other, with unrelated pictures on its two sides, that moves from one edge
of the frame to the other at a steady pace. Object edges cover part of a column or row; a
pillarbox or letterbox edge, a door frame or a pillar in a still view does not move.

Every frame fed is scaled to :data:`WIDTH` pixels wide, luma. A column is a seam where at
least :data:`MIN_SHARE` of the rows step by :data:`LEVEL` grey levels or more between the
pixels either side of it (two apart: a seam between two pixels of the full frame falls
inside one of the small one); a row likewise. Runs of neighbouring seam lines are one seam
at their centre, with the largest share of the run as its strength.

A track (:func:`tracks`) is a seam in consecutive frames (at most :data:`MAX_MISSED` in a
row without it: it crosses a picture like itself there), moving one way by a steady step:
at least :data:`MIN_STEP` pixels a frame, each step within :data:`STEP_TOLERANCE` of the
median step so far (or 1.5 pixels). It comes in at one edge and leaves at the other: it is
first seen, and last seen, within :data:`MAX_MISSED` + 1 steps and :data:`NEAR_PX` pixels
of the edge (and at most :data:`EDGE_ZONE` of the side), and it was not in the frames
just before it, neither where it starts nor a step back (an edge that stood there, and
started to move with a pan, is no seam coming in). A still edge (one that stays in the
next two frames) starts none, and a track whose seam stood, in most of its frames, where
it is in the frame before hops along still edges (blinds, a fence, slats) and is none.
"""

from __future__ import annotations

from array import array

import cv2
import numpy as np

WIDTH = 64  # pixels: frames are judged at this width
LEVEL = 10  # grey levels between the pixels either side of a seam
MIN_SHARE = 0.75  # of the rows (columns) that step at a seam column (row)
MIN_STEP = 0.5  # pixels per frame at WIDTH: a seam slower than this is no transition's
STEP_TOLERANCE = 0.5  # a step within this share of the median step (or 1.5 px) continues a track
MAX_MISSED = 2  # frames in a row where a track's seam may go unseen
NEAR_PX = 2.0  # a track is seen within (MAX_MISSED + 1) steps and this many pixels of either edge...
EDGE_ZONE = 0.3  # ...and at most this share of the side from it
MIN_FRAMES = 3  # frames a track spans at least, by default
MIN_SIDE = 16  # pixels: frames with a side under this have no seams
MAX_ROWS = 256  # rows of the scaled frame at most (a tall strip is not scaled up past this)


class Ragged:
    """Rows of varying length (float32) appended one by one, kept in one growing array:
    ``r[i]`` is row ``i`` (a view; IndexError outside ``0..len - 1``), ``r[a:b]`` a list of
    them. About 8 bytes a row besides its values (a list of small arrays took 100 or more)."""

    def __init__(self):
        self._values = np.zeros(256, np.float32)
        self._ends = array("q")

    def __len__(self) -> int:
        return len(self._ends)

    def append(self, row: np.ndarray) -> None:
        start = self._ends[-1] if self._ends else 0
        if not len(row):
            self._ends.append(start)
            return
        if start + len(row) > len(self._values):
            self._values = np.concatenate([self._values, np.zeros(max(len(self._values), len(row)), np.float32)])
        self._values[start:start + len(row)] = row
        self._ends.append(start + len(row))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self._ends):
            raise IndexError(f"row {index} of {len(self._ends)}")
        start = self._ends[index - 1] if index > 0 else 0
        return self._values[start:self._ends[index]]


class SeamProfiles:
    """The seams of every frame fed, in feed order.

    :meth:`append` takes an ``(H, W, 3) uint8`` BGR frame; ``cols[i]`` and ``rows[i]`` are
    the positions of frame ``i``'s seam columns and rows (pixels at :data:`WIDTH`, float32),
    ``col_shares[i]`` and ``row_shares[i]`` their strengths (0..1, float32), each a
    :class:`Ragged`; ``sides`` is ``(width, height)`` of the scaled frame once a frame was
    fed (at most :data:`MAX_ROWS` rows); frames with a side under :data:`MIN_SIDE` pixels
    have no seams. ``cache`` keeps :func:`tracks` that later frames cannot change. About
    40 bytes a frame, and a cached track a few hundred."""

    def __init__(self):
        self.cols, self.rows, self.col_shares, self.row_shares = Ragged(), Ragged(), Ragged(), Ragged()
        self.sides: tuple[int, int] | None = None
        self.cache: dict[tuple, dict] = {}  # tracks(cache=...) of each axis and track lengths
        self.thin = False

    def __len__(self) -> int:
        return len(self.cols)

    def append(self, frame_bgr: np.ndarray) -> None:
        """Add the seams of the next frame, ``(H, W, 3) uint8`` BGR."""
        if self.sides is None:
            h, w = frame_bgr.shape[:2]
            self.sides = (WIDTH, min(MAX_ROWS, max(8, int(round(h * WIDTH / max(w, 1))))))
            self.thin = min(h, w) < MIN_SIDE
        if self.thin:  # a strip of a few lines: every edge spans all of them
            for store in (self.cols, self.rows, self.col_shares, self.row_shares):
                store.append(_NONE)
            return
        luma = cv2.resize(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY), self.sides, interpolation=cv2.INTER_AREA)
        _add(cv2.absdiff(luma[:, 2:], luma[:, :-2]), 0, self.cols, self.col_shares)  # column x + 1 steps
        _add(cv2.absdiff(luma[2:, :], luma[:-2, :]), 1, self.rows, self.row_shares)


def _add(steps: np.ndarray, axis: int, centres: Ragged, shares: Ragged) -> None:
    """Append the seams of one frame's ``steps`` (``uint8`` absolute differences two pixels
    apart) along ``axis`` (0: columns, summed over the rows; 1: rows) to ``centres`` and ``shares``."""
    lines = steps.shape[axis]
    counts = cv2.reduce(cv2.threshold(steps, LEVEL - 1, 1, cv2.THRESH_BINARY)[1], axis, cv2.REDUCE_SUM,
                        dtype=cv2.CV_32S).ravel()
    if counts.max() < MIN_SHARE * lines:  # no seam: most frames
        centres.append(_NONE)
        shares.append(_NONE)
        return
    at, peak = _centres(counts / lines)
    centres.append(at)
    shares.append(peak)


_NONE = np.zeros(0, np.float32)


def _centres(share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the runs of lines whose ``share`` ``(n,)`` is at least :data:`MIN_SHARE`,
    shifted by one (the pixel between the two compared), and each run's largest share:
    two ``(k,) float32`` arrays."""
    idx = np.flatnonzero(share >= MIN_SHARE)
    if not idx.size:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(idx) > 1) + 1])
    ends = np.concatenate([starts[1:] - 1, [idx.size - 1]])
    peaks = np.maximum.reduceat(share[idx], starts)
    return ((idx[starts] + idx[ends]) / 2.0 + 1.0).astype(np.float32), peaks.astype(np.float32)


def strength(positions: list[np.ndarray], shares: list[np.ndarray], first: int, last: int,
             start: float, end: float) -> float:
    """Mean over frames ``first..last`` of the strength of the seam nearest (within 1.5 pixels)
    to the straight track from ``start`` (frame ``first``) to ``end`` (frame ``last``); a
    frame without one counts 0."""
    out = []
    for t in range(first, last + 1):
        x = start + (end - start) * (t - first) / max(last - first, 1)
        near = np.abs(positions[t] - x) <= 1.5
        out.append(float(shares[t][near].max()) if near.any() else 0.0)
    return float(np.mean(out))


def tracks(positions, side: int, max_len: int, min_len: int = MIN_FRAMES, begin: int = 0,
           cache: dict | None = None) -> list[tuple[int, int, float, float]]:
    """Seam tracks (module docstring) among per-frame seam positions on an axis ``side``
    pixels long (``positions[i]``: frame ``i``'s, a list or a :class:`Ragged`), first seen
    at frame ``begin`` or later, each ``min_len`` to ``max_len + MAX_MISSED`` frames (the
    last look past a missed seam may reach that far): ``(first, last,
    start, end)``, the first and last frame where the seam shows (inclusive) and its
    positions there (pixels), by first frame. Tracks may overlap: an edge of the outgoing
    picture that moves with a slide makes one beside the slide's seam. ``cache`` (a dict
    kept with the positions) holds the tracks of each first frame once no later frame can
    change them (the tracks found, and up to which first frame all are known), so calls
    over growing positions cost the new frames only."""
    found = []
    n = len(positions)
    upto = cache.get("upto", 0) if cache is not None else 0  # first frames before this: all cached
    for t in range(begin, n - 1):
        if t < upto:
            found.extend(cache.get(t, ()))
            continue
        spans = []
        for start in positions[t]:
            span = _follow(positions, t, float(start), side, max_len, min_len)
            if span is not None:
                spans.append((t, span[0], float(start), span[1]))
        if cache is not None and t == upto and t + max_len + MAX_MISSED + 3 <= n:  # final now
            upto += 1
            cache["upto"] = upto
            if spans:
                cache[t] = spans
        found.extend(spans)
    return found


def _near(step, side: int):
    """How close to an edge (pixels) a track of ``step`` pixels a frame (a float or an
    array of them) is seen."""
    return np.minimum(EDGE_ZONE * side, (MAX_MISSED + 1) * np.abs(step) + NEAR_PX)


def _follow(positions: list[np.ndarray], t: int, start: float, side: int,
            max_len: int, min_len: int = MIN_FRAMES) -> tuple[int, float] | None:
    """The track of the seam at ``start`` in frame ``t``: ``(last frame seen, its position)``,
    or None when it is no track (module docstring)."""
    after = positions[t + 1:t + 3]
    if after and all((np.abs(p - start) < MIN_STEP).any() for p in after):
        return None  # a still edge
    if sum(bool((np.abs(p - start) < 1.0).any()) for p in positions[max(t - 3, 0):t]) >= 2:
        return None  # it stood there before
    pos, steps, last, stale = start, [], t, 0
    while last - t + 1 < max_len:
        nxt = None
        for ahead in range(1, MAX_MISSED + 2 if steps else 2):
            if last + ahead >= len(positions) or not positions[last + ahead].size:
                continue
            deltas = (positions[last + ahead] - pos) / ahead
            if steps:
                med = float(np.median(steps))
                cost = np.abs(deltas - med)
                ok = (np.sign(deltas) == np.sign(med)) & (cost <= max(1.5, STEP_TOLERANCE * abs(med)))
            else:  # the nearest seam that moved, away from the edge it came in at
                cost = np.abs(deltas)
                ok = (cost >= MIN_STEP) & (np.where(deltas < 0, side - start, start) <= _near(1.5 * deltas, side))
            if ok.any():
                nxt = (ahead, float(deltas[np.flatnonzero(ok)[np.argmin(cost[ok])]]))
                break
        if nxt is None:
            break
        ahead, step = nxt
        steps.extend([step] * ahead)
        pos, last = pos + step * ahead, last + ahead
        stale += bool((np.abs(positions[last - 1] - pos) < 1.0).any())
    if not steps or stale > 0.5 * len(steps):  # hops along edges that stand still (blinds, a fence, slats)
        return None
    step = float(np.median(steps))
    enters, leaves = (side - start, pos) if step < 0 else (start, side - pos)
    near = _near(step, side)
    if abs(step) < MIN_STEP or enters > near or leaves > near or last - t + 1 < min_len:
        return None
    back = start - step  # where it was a frame before, had it been there: it was not (it came in, or stood)
    if t > 0 and 0 < back < side and (np.abs(positions[t - 1] - back) <= 1.5).any():
        return None
    return last, pos
