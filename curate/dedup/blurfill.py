"""Blurred fill: the picture placed whole in a frame of another aspect over a blurred copy of itself.

Phone apps and broadcasters put a landscape clip in a 9:16 frame (or a portrait or 4:3
clip in a 16:9 one) and fill the rest with the same picture scaled up to cover the
frame, blurred and often dimmed. The fill is neither black nor flat, so the pad search
(:mod:`curate.dedup.pads`) keeps it, and the copy's signature and pHash then hold the
fill too; its picture share was 1, so a dedup group could keep the filled copy over
its source.

A fill is found on luma frames ``(T, H, W) uint8`` in two steps, for the rows (a band
above and below) and, on the transposed frames, for the columns (left and right); a clip
whose outer lines are not smooth next to its middle is turned down first:

1. Edges: for every line, the median over time of the mean absolute difference from the
   next line. The picture's edge is a line difference that stays high in every frame;
   the pairs of such edges whose bands (each 8 to 40 % of the side) are alike in size
   (within 10 % of the side: a picture centred, or set a little above the middle) are
   judged strongest (weaker edge; of equals, the stronger other edge) first, at most
   :data:`TRIES` of them.
2. A pair is a fill when all of these hold:

   - the picture between the edges has one of the usual :data:`ASPECTS`;
   - the bands' detail (the mean absolute difference between neighbouring pixels along
     and across the lines, medians over time) is at most :data:`MAX_BLUR` of the
     picture's, and the weaker edge at least :data:`MIN_EDGE` times the picture's median
     line difference and :data:`MIN_EDGE_LEVELS` grey levels (a shot whose top and
     bottom are out of focus fades into its sharp middle with no edge at one line);
   - one edge steps along at least :data:`MIN_STRAIGHT` of its length (the side of a
     picture is a whole straight line, the side of a person before a plain wall a part
     of one);
   - neither band holds a sharp edge (:data:`MAX_SHARP`: a blur leaves none; a wall or a
     whiteboard beside a person has corners, frames and the person's arms).

The picture runs from the line after the top (left) edge to the line before the bottom
(right) one. Leaving out the line next to each edge, which a frame scaled to the sample's
size may mix with the fill, had cost more: on dark footage with point lights (a night
street), a picture 2-3 lines short of its source's matched it at 0.18 instead of 0.012.
"""

from __future__ import annotations

import numpy as np

MIN_BAND = 0.08  # share of the side: a band thinner than this is no fill
MAX_BAND = 0.4  # ...or thicker (the picture is at least a fifth of the side: 2.39:1 in 9:16 is 0.24)
# width / height of the pictures put in a fill: 9:16, 3:4, 1:1, 4:3, 3:2, 16:9, 1.85, 2:1, 2.39:1
ASPECTS = (9 / 16, 3 / 4, 1.0, 4 / 3, 3 / 2, 16 / 9, 1.85, 2.0, 2.39)
ASPECT_TOLERANCE = 0.06  # relative: a picture's aspect within this of one of ASPECTS
SYMMETRY = 0.1  # share of the side by which the two bands may differ (at least 2 lines): a layout
# may set the picture above the middle, leaving room for captions below
MAX_BLUR = 0.4  # the bands' detail, at most this share of the picture's
MIN_EDGE = 1.0  # an edge, at least the picture's median line difference
MIN_EDGE_LEVELS = 4.0  # ...and at least this many grey levels
MAX_SHARP = 0.5  # the bands' sharpest edges (99th percentile gradient), at most this share of the picture's
STEP_LEVELS, MIN_STRAIGHT = 3, 0.85  # an edge steps by this many grey levels along this share of it
TRIES = 12  # pairs of edges judged, strongest first


def _profiles(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(across, along)`` of ``(T, H, W) uint8`` frames: ``across[y]`` the median over time
    of the mean absolute difference between rows ``y`` and ``y + 1`` ``(H - 1,)``;
    ``along[y]`` that of neighbouring pixels within row ``y`` ``(H,)``, both float32."""
    x = luma.astype(np.int16)
    across = np.median(np.abs(np.diff(x, axis=1)).mean(axis=2, dtype=np.float32), axis=0)
    along = np.median(np.abs(np.diff(x, axis=2)).mean(axis=2, dtype=np.float32), axis=0)
    return across.astype(np.float32), along.astype(np.float32)


def _smooth_edges(luma: np.ndarray, lo: int) -> bool:
    """Whether the outer ``lo`` rows at the top and at the bottom of ``(T, H, W) uint8`` frames
    (which every band holds) are smooth next to the middle fifth (always picture), judged
    on at most 4 frames: a quick test that turns down most clips before the full one."""
    t, h, _ = luma.shape
    x = luma[np.linspace(0, t - 1, min(t, 4)).round().astype(int)]

    def detail(rows: np.ndarray) -> float:
        return float(np.abs(np.diff(rows.astype(np.int16), axis=2)).mean())

    middle = detail(x[:, int(0.4 * h):int(0.6 * h) + 1])
    limit = 2 * MAX_BLUR * middle
    return detail(x[:, 1:lo - 1]) <= limit and detail(x[:, h - lo + 1:h - 1]) <= limit


def fill_rows(luma: np.ndarray, transposed: bool = False) -> tuple[int, int] | None:
    """``(y0, y1)``: the rows of the picture inside a blurred fill above and below it
    (module docstring) in ``(T, H, W) uint8`` luma frames, or None when there is no such
    fill. ``transposed``: the frames are a picture's transposed (its aspect is the inverse).
    Frames under 24 lines or 8 columns have none."""
    t, h, w = luma.shape
    if h < 24 or w < 8 or t == 0:
        return None
    lo, hi = max(3, int(np.ceil(MIN_BAND * h))), int(MAX_BAND * h)
    if not _smooth_edges(luma, lo):
        return None
    across, along = _profiles(luma)
    tol = max(2, int(round(SYMMETRY * h)))
    y0s = np.arange(lo, hi + 1)  # top band rows [0, y0): its edge lies between y0 - 1 and y0
    y1s = (h - y0s)[:, None] + np.arange(-tol, tol + 1)  # bottom band rows [y1, h)
    ok = (y1s >= h - hi) & (y1s <= h - lo)
    top, bottom = across[y0s - 1][:, None], np.where(ok, across[np.clip(y1s, 1, h - 1) - 1], -1.0)
    edges = np.minimum(top, bottom)
    rank = edges + 1e-3 * (top + bottom)  # of pairs with the same weaker edge, the stronger other one
    tried: list[tuple[int, int]] = []
    for flat in np.argsort(rank, axis=None)[::-1]:  # strongest pairs of edges first
        i, j = np.unravel_index(int(flat), edges.shape)
        y0, y1 = int(y0s[i]), int(y1s[i, j])
        if edges[i, j] < MIN_EDGE_LEVELS or len(tried) == TRIES:
            return None
        if any(abs(y0 - a) <= 2 and abs(y1 - b) <= 2 for a, b in tried):
            continue  # the same edges a line off
        tried.append((y0, y1))
        if (_is_fill(across, along, y0, y1, float(edges[i, j]), w, transposed) and _straight(luma, y0, y1)
                and _no_sharp_edge(luma, y0, y1)):
            return y0, y1
    return None


def _is_fill(across: np.ndarray, along: np.ndarray, y0: int, y1: int, edge: float, w: int,
             transposed: bool) -> bool:
    """The aspect, detail and edge tests of step 2 of the module docstring for bands
    ``[0, y0)`` and ``[y1, H)`` of the profiles of :func:`_profiles` of frames ``w`` pixels
    wide, whose weaker edge is ``edge`` grey levels."""
    h = len(along)
    inner = slice(y0 + 1, y1 - 2)  # picture rows away from both edges (differences: y -> y + 1)
    aspect = w / (y1 - y0 - 2) if not transposed else (y1 - y0 - 2) / w
    if inner.stop - inner.start < 4 or min(abs(aspect / a - 1) for a in ASPECTS) > ASPECT_TOLERANCE:
        return False
    detail = along[inner].mean() + across[inner].mean()
    band = along[np.r_[0:y0 - 2, y1 + 1:h]].mean() + across[np.r_[0:y0 - 2, y1 + 1:h - 1]].mean()
    return band <= MAX_BLUR * detail and edge >= MIN_EDGE * float(np.median(across[inner]))


def _straight(luma: np.ndarray, y0: int, y1: int) -> bool:
    """Whether one of the two edges (between the band's last line and the picture's first
    line past the line they share, over time the median absolute difference) steps by at
    least :data:`STEP_LEVELS` along :data:`MIN_STRAIGHT` of its length: the side of a
    picture is a whole straight line, the side of a subject in front of a plain wall (a
    signer, a speaker) is a part of one."""
    best = 0.0
    for band, picture in ((y0 - 2, y0 + 1), (y1 + 1, y1 - 2)):
        step = np.median(np.abs(luma[:, band].astype(np.int16) - luma[:, picture]), axis=0)
        best = max(best, float((step >= STEP_LEVELS).mean()))
    return best >= MIN_STRAIGHT


def _no_sharp_edge(luma: np.ndarray, y0: int, y1: int) -> bool:
    """Whether neither band ``[0, y0 - 2)`` nor ``[y1 + 1, H)`` holds a sharp edge: the 99th
    percentile of its pixels' gradient (the larger absolute difference to the next pixel
    along or across the lines), the median over frames, is at most :data:`MAX_SHARP` of the
    picture's. A blur leaves no sharp edge; a plain wall or a whiteboard beside a person
    (a tight crop of someone signing or speaking), smooth on the whole, has its corners,
    frames and the person's own arms."""
    def p99(part: np.ndarray) -> float:
        x = part.astype(np.int16)
        grad = np.maximum(np.abs(np.diff(x, axis=1))[:, :, :-1], np.abs(np.diff(x, axis=2))[:, :-1, :])
        return float(np.median(np.percentile(grad.reshape(len(grad), -1), 99, axis=1)))

    picture = p99(luma[:, y0 + 1:y1 - 2])
    return all(p99(band) <= MAX_SHARP * picture for band in (luma[:, :y0 - 2], luma[:, y1 + 1:]) if band.shape[1] > 2)


def fill_box(luma: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(y0, y1, x0, x1)`` of the picture inside a blurred fill of ``(T, H, W) uint8`` luma
    frames, above and below (:func:`fill_rows`) or left and right (the same on the
    transposed frames), or None when there is neither. A picture smaller than the frame
    both ways (a fill on four sides) is not found: no edge steps along most of its line."""
    h, w = luma.shape[1:]
    rows = fill_rows(luma)
    if rows is not None:
        return rows[0], rows[1], 0, w
    cols = fill_rows(luma.transpose(0, 2, 1), transposed=True)
    if cols is not None:
        return 0, h, cols[0], cols[1]
    return None
