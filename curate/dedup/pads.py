"""The pad search: the picture inside letterbox and pillarbox bars (or a blurred fill) of a clip's frames.

A row (column) of a clip is *pad* when it is black over the whole clip (the 90th
percentile of its brightest value over time at or below a level; but a black line whose
mean over time varies along it by more than :data:`BLACK_DETAIL` (plus what its noise
over time leaves in a mean of that many frames) and whose next
:data:`DARK_AHEAD` lines inwards are black too is picture: the dark sky of a night scene,
darkened by a copy under the level, keeps its detail, where a bar's noise averages out,
and a line at a bar's inner edge, where codec ringing echoes the picture, has the bright
picture next to it; before, a copy 30 levels darker had lost 20 rows of sky to the cut,
its original none, and the two were never paired: this for the dedup signature only,
``detail``; the picture share of the keep rule and the scores judge by level alone, as
bars of coarse grain had counted as picture there, and a pillarboxed copy won the keep
rule) or flat (its values over
time within a few luma levels, 2nd to 98th percentile, so codec ringing at a bar's edge
does not count: grey, white or coloured bars). Only rows (columns) at the edges are cut,
at most :data:`MAX_BORDER` of each side. Used by the dedup signature
(:mod:`curate.dedup.signature`) and the pHash (:mod:`curate.embed`), so a padded
re-upload hashes like its source.

Only edge lines are judged until a picture line is found from each side (a line's
verdict depends on that line's values alone, and for a black line with detail on the
next lines' levels): a clip without bars costs two rows and two
columns, not every line of every frame. The box is the one judging every line gives.
The picture may also sit in a blurred copy of itself, which is no flat pad
(:mod:`curate.dedup.blurfill`): :func:`content_box` looks for that too.
"""

from __future__ import annotations

import cv2
import numpy as np

from curate.dedup.blurfill import fill_box

BLACK_LEVEL = 24.0  # luma of bars; rows/columns whose bright pixels stay under it are border
FLAT_RANGE = 8.0  # luma levels: rows/columns whose values (2nd-98th percentile) stay this close are a pad
MAX_BORDER = 0.4  # at most this share of the height (width) is cut from each side
BLACK_DETAIL = 5.0  # luma levels: a dark line whose mean over time varies more along it (over what its noise
#                    leaves in a mean) may be picture...
DARK_AHEAD = 2  # ...where this many lines inwards of it are dark too (not a bar's edge: ringing echoes the picture)


def bt601_luma(frames: np.ndarray) -> np.ndarray:
    """BT.601 luma ``rint(0.299 R + 0.587 G + 0.114 B)`` of ``(..., 3) uint8`` RGB as
    ``(...) uint8`` (float64 arithmetic, so the values do not depend on how much of a frame
    is converted at once)."""
    y = frames[..., 0] * 0.299 + frames[..., 1] * 0.587 + frames[..., 2] * 0.114
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def row_percentiles(lines: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """``np.percentile(lines, qs, axis=1)`` of ``(R, N) uint8`` rows (``N`` >= 1), the same
    ``(len(qs), R) float64`` values bit for bit (numpy's default ``linear`` method), from
    per-row counts of the 256 levels instead of a partial sort of each row (4-5x faster on
    a clip's motion sample). Raises ValueError for other dtypes or an empty array."""
    if lines.dtype != np.uint8 or lines.ndim != 2 or not lines.size:
        raise ValueError(f"expected (R, N) uint8 rows with R, N >= 1, got {lines.shape} {lines.dtype}")
    rows, n = lines.shape
    # one bincount over (row, level) codes: a call per row had cost 5 % of a short clip's pass
    codes = (np.arange(rows, dtype=np.intp)[:, None] << 8) | lines
    below = np.bincount(codes.ravel(), minlength=rows * 256).reshape(rows, 256).cumsum(axis=1)
    out = np.empty((len(qs), rows), np.float64)
    for i, q in enumerate(qs):
        virtual = (n - 1) * np.true_divide(q, 100)  # numpy's linear method, step by step
        first = min(int(np.floor(virtual)), n - 1)
        a = (below <= first).sum(axis=1).astype(np.uint8)  # order statistic `first` of each row
        b = (below <= min(first + 1, n - 1)).sum(axis=1).astype(np.uint8)
        gamma = virtual - np.floor(virtual)
        diff = b - a
        out[i] = a + diff * gamma
        np.subtract(b, diff * (1 - gamma), out=out[i], where=gamma >= 0.5)
    return out


def line_content(frames: np.ndarray, axis: int, idx: np.ndarray, level: float = BLACK_LEVEL,
                 flat: float = FLAT_RANGE, detail: bool = False) -> np.ndarray:
    """Which of the rows (``axis`` 1) or columns (``axis`` 2) ``idx`` of ``(T, H, W) uint8``
    luma (or ``(T, H, W, 3) uint8`` RGB, converted by :func:`bt601_luma`) hold picture:
    ``(len(idx),) bool``, True where the line is neither black nor flat (module docstring);
    with ``detail``, a black line with detail over time may be picture too."""
    peak, lo, hi, sub = _line_stats(frames, axis, idx)
    picture = peak > level
    dark = np.flatnonzero(~picture & (hi - lo > flat)) if detail else []
    if len(dark):  # black but not flat: dark picture where it has detail and the picture goes on dark
        n = frames.shape[axis]
        step = np.where(idx[dark] < n / 2, 1, -1)  # inwards
        ahead = np.clip(idx[dark][:, None] + step[:, None] * np.arange(1, DARK_AHEAD + 1), 0, n - 1)
        still_dark = (_line_stats(frames, axis, ahead.ravel())[0] <= level).reshape(ahead.shape).all(axis=1)
        lines = np.take(sub, dark, axis=axis).astype(np.float32)
        mean = np.rint(lines.mean(axis=0)).astype(np.uint8)
        m_lo, m_hi = row_percentiles(mean if axis == 1 else np.ascontiguousarray(mean.T), (2, 98))
        # what noise alone leaves in a mean of T frames: about 4 of its standard deviations / sqrt(T)
        noise = np.median(lines.std(axis=0), axis=1 if axis == 1 else 0) * 4 / np.sqrt(len(lines))
        picture[dark] = still_dark & (m_hi - m_lo > BLACK_DETAIL + noise)
    return picture & (hi - lo > flat)


def _line_stats(frames: np.ndarray, axis: int, idx: np.ndarray):
    """``(peak, 2nd, 98th percentile, lines)`` of lines ``idx`` (:func:`line_content`): the
    90th percentile of each line's brightest values over time, the 2nd and 98th of all its
    values, and the lines themselves as ``(T, ...)`` luma."""
    sub = np.take(frames, idx, axis=axis)
    if sub.ndim == 4:
        sub = bt601_luma(sub)
    brightest = sub.max(axis=0)
    (peak,) = row_percentiles(brightest if axis == 1 else np.ascontiguousarray(brightest.T), (90,))
    lines = np.moveaxis(sub, axis, 0).reshape(len(idx), -1)
    lo, hi = row_percentiles(lines, (2, 98))
    return peak, lo, hi, sub


def _first(judge, order: range) -> int | None:
    """The first line of ``order`` that ``judge`` (lines -> bool mask) finds picture in, judging
    2, 8, 32, ... lines at a time; None when there is none."""
    lines, start, size = list(order), 0, 2
    while start < len(lines):
        chunk = lines[start:start + size]
        hits = np.flatnonzero(judge(np.asarray(chunk, np.intp)))
        if len(hits):
            return chunk[hits[0]]
        start, size = start + size, size * 4
    return None


def edge_span(n: int, judge) -> tuple[int, int]:
    """``(first, one past the last)`` picture line of ``n`` lines, at most :data:`MAX_BORDER`
    of them cut from each side; ``(0, n)`` when no line holds picture. ``judge``: line
    indices ``(K,) intp`` -> ``(K,) bool``. Lines are judged from the edges inwards and only
    until each side has its first picture line (the middle only when a side has none)."""
    limit = int(n * MAX_BORDER)
    top = _first(judge, range(0, limit))
    bottom = _first(judge, range(n - 1, n - limit - 1, -1))
    if top is None or bottom is None:
        middle = np.arange(limit, n - limit, dtype=np.intp)
        if top is None and bottom is None and not (len(middle) and judge(middle).any()):
            return 0, n
    return (limit if top is None else top), (n - limit if bottom is None else bottom + 1)


def content_box(frames: np.ndarray, level: float = BLACK_LEVEL, flat: float = FLAT_RANGE,
                detail: bool = False) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of the picture inside the pads of ``(T, H, W)`` (or ``(H, W)``)
    ``uint8`` luma frames, or ``(T, H, W, 3) uint8`` RGB frames (module docstring).

    Rows are judged inside the columns kept and columns inside the rows kept, in turn until
    the box holds, so a flat sky is cut alike from a clip and from its pillarboxed copy
    (whose sky rows hold the bars too). A blank or flat clip keeps its whole frame. A
    blurred fill (:mod:`curate.dedup.blurfill`) is looked for inside the bars where there
    are bars alike on two sides, else in the whole frame (a dim fill is cut as black on
    one side only), and then bars alike on two sides inside the picture it holds
    (:func:`picture_box`). ``detail``: black lines with detail over time may be picture
    (module docstring; the dedup signature's box).
    """
    return picture_box(frames, level, flat, detail)[0]


def picture_box(frames: np.ndarray, level: float = BLACK_LEVEL, flat: float = FLAT_RANGE,
                detail: bool = False) -> tuple[tuple[int, int, int, int], bool]:
    """:func:`content_box` and whether its box is inside a blurred fill."""
    frames = frames[None] if frames.ndim == 2 else frames
    h, w = frames.shape[1:3]
    box = bars_box(frames, level, flat, detail)
    if paired(box, h, w) == (h, w):  # no bars alike on two sides: the whole frame
        oy, ox, region = 0, 0, frames
    else:
        oy, ox, region = box[0], box[2], frames[:, box[0]:box[1], box[2]:box[3]]
    fill = fill_box(region if region.ndim == 3 else grey(region))
    if fill is None:
        return box, False
    y0, y1, x0, x1 = fill[0] + oy, fill[1] + oy, fill[2] + ox, fill[3] + ox
    inner = bars_box(frames[:, y0:y1, x0:x1], level, flat, detail)
    if paired(inner, y1 - y0, x1 - x0) == (y1 - y0, x1 - x0):  # no bars alike on two sides: a dark
        return (y0, y1, x0, x1), True  # sky or ground of the smaller picture is no pad (night footage)
    return (y0 + inner[0], y0 + inner[1], x0 + inner[2], x0 + inner[3]), True


def paired(box: tuple[int, int, int, int], h: int, w: int) -> tuple[int, int]:
    """``(rows, columns)`` of a box ``(y0, y1, x0, x1)`` in an ``h x w`` frame counted along
    an axis only where its pads on the two sides are alike (within 2 % of the side, at
    least 2 pixels), as bars are; the whole side where they are not (a flat sky or a dark
    ground cut from one side only is picture)."""
    y0, y1, x0, x1 = box
    rows = y1 - y0 if abs(y0 - (h - y1)) <= max(2, 0.02 * h) else h
    cols = x1 - x0 if abs(x0 - (w - x1)) <= max(2, 0.02 * w) else w
    return rows, cols


def grey(frames: np.ndarray) -> np.ndarray:
    """Luma ``(T, H, W) uint8`` of ``(T, H, W, 3) uint8`` RGB frames by OpenCV's BT.601
    conversion (fixed point: within a level of :func:`bt601_luma`, several times faster)."""
    t, h, w = frames.shape[:3]
    return cv2.cvtColor(np.ascontiguousarray(frames).reshape(t * h, w, 3), cv2.COLOR_RGB2GRAY).reshape(t, h, w)


def bars_box(frames: np.ndarray, level: float = BLACK_LEVEL, flat: float = FLAT_RANGE,
             detail: bool = False) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` inside the letterbox and pillarbox bars of ``(T, H, W)`` luma or
    ``(T, H, W, 3)`` RGB ``uint8`` frames only: :func:`content_box` without the fill search."""
    h, w = frames.shape[1:3]
    box = (0, h, 0, w)
    for _ in range(4):  # rows judged inside the columns kept and back, until nothing moves
        y0, y1, x0, x1 = box
        cols = frames[:, :, x0:x1]
        ys = edge_span(h, lambda idx: line_content(cols, 1, idx, level, flat, detail))  # noqa: B023
        rows = frames[:, ys[0]:ys[1]]
        xs = edge_span(w, lambda idx: line_content(rows, 2, idx, level, flat, detail))  # noqa: B023
        if (*ys, *xs) == box:
            break
        box = (*ys, *xs)
    return box
