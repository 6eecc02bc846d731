"""Cuts on a screen in view: a TV, a monitor, a laptop or a video wall showing other
footage inside one camera shot.

A screen in a fixed or slowly moving camera's view that cuts between its own shots changes
part of the picture at once, as a jump cut does, and PySceneDetect's content score (and the
jump-cut spikes of :mod:`curate.split.spikes`) fire. The camera's shot goes on: no boundary.
Unlike a graphic (:mod:`curate.split.overlays`) the screen's picture neither holds still nor
comes back, so what tells it from a jump cut of one camera (a person or a car moved, a
signer replaced) is the shape of the change, on the 32-pixel thumbnails of
:func:`curate.split.transitions.thumbnail`:

- the pixels changing by at least :data:`LEVEL` levels (largest over channels) fill a
  rectangle: the rectangle that best fits them (:func:`best_rectangle`, the maximum-sum
  sub-rectangle of +1 for a changed pixel and -1 for another) matches them with an
  intersection over union of at least :data:`MIN_IOU`; in a rectangle of at least
  :data:`TOLERANCE` pixels, those within a pixel of its edge (inside or out) are left out
  (a screen seen at an angle, or off the thumbnail's grid). A person, a car or a signer that
  moved changes a ragged region: a head above shoulders, legs, the union of two places;
  and the rectangle's corners change as its edges predict (:func:`_corners`, at least
  :data:`MIN_CORNERS`): the best rectangle of a round thing that appeared (a ball, a clock
  face, a plate) fits it well (its rim mixes with the room below :data:`LEVEL`), but its
  corners stay as they were while the middles of its edges change;
- the rectangle is a screen's: at least :data:`MIN_ROWS` by :data:`MIN_COLS` thumbnail
  pixels, its width over its height within :data:`ASPECT` (landscape: a standing person
  who moved is a tall, thin rectangle; a square box brought in is no screen either), at
  most :data:`MAX_SHARE` of the picture (the frame without letterbox or pillarbox bars,
  :func:`_picture_box`), and touching at most :data:`MAX_EDGES` edge of the picture (a
  region from top to bottom or side to side, or in a corner, is a person walking or a lamp
  pool). One the frame cuts off on one side (a TV at the edge of the view) must fit its
  changed pixels with an IoU of at least :data:`EDGE_IOU`, and only its two corners away
  from that side are judged: a head coming into view from the top changes the whole top
  row, corners included, but not the corners beside its chin;
- it shows a picture on both sides of the cut: inside it (but for its edge pixels) the
  thumbnail's spread is at least :data:`MIN_DETAIL` levels in the frame before and the
  frame after. A flat box, a plain door or a sheet brought into view has none, and nor
  has a screen switched off (a light change, left to :mod:`curate.split.lights`);
- something moves around the cut (:func:`_moves`, at least :data:`MIN_MOVING` of the
  picture): a screen plays moving pictures, or the room moves; a slideshow of still
  photographs on a still template changes only at its cuts, and those are its shots'
  boundaries;
- the rest of the picture goes on: outside the rectangle and the ring of pixels next to it
  (at least :data:`MIN_REST` of the picture; a still room counts), the frame after differs
  from the frame before, brought to its light (a gain and offset per channel fitted there,
  :func:`curate.split.overlay_light.relit`: the light a screen throws on the room moves
  with its picture), at most :data:`OUTSIDE_RATIO` times as much as the frame changes from
  frame to frame around the cut (at least 1 level).

Tuned on two sets of composited rooms with screens cutting, measured on a third built apart
(docs/benchmarks.md, "Screens in view"). Known limits: a screen in a corner of the frame, a portrait
phone screen, a video wall's thin panels, a screen seen at a steep angle or cutting
between pictures of like colour in part of it (the change is no rectangle), a screen
filling more than half the picture (then it is nearly the shot), strong light thrown
unevenly on the room, a slideshow whose photos slowly zoom (Ken Burns) on a still template
(taken for a screen), and a rectangular region of a fixed camera's view changing at a jump
cut while something moves (a poster or a painting replaced, a window opened onto a
street; at one edge of the frame too, a door opened there). Frame indices are 0-based, in
decode order.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from curate.split.overlay_light import relit
from curate.split.overlays import _change, _usual, moved_around

LEVEL = 12.0  # levels: a pixel the cut changes (the overlays' REGION_LEVEL)
MIN_IOU = 0.8  # changed pixels against their best rectangle: intersection over union at least
TOLERANCE = (5, 6)  # rows, cols of a rectangle from which its IoU leaves out pixels within one of its edge
MAX_SHARE = 0.5  # share of the picture the rectangle covers at most
ASPECT = (1.1, 3.2)  # the rectangle's width over height, in thumbnail pixels (landscape screens)
MIN_DETAIL = 5.0  # levels: the std of the rectangle's inside (largest over channels), before and after
MIN_ROWS, MIN_COLS = 4, 5  # thumbnail pixels: the smallest screen judged
MIN_CORNERS = 0.4  # the corners' change over what the edges predict (:func:`_corners`), at least
OUTSIDE_RATIO = 3.0  # outside it the cut changes at most this many times the usual change
MAX_EDGES = 1  # edges of the picture the rectangle may touch...
EDGE_IOU = 0.93  # ...and then its IoU at least (a TV cut off by the frame fits its rectangle closely)
MIN_REST = 0.15  # share of the picture outside the rectangle and its ring, at least
BAR_FLAT = 4.0  # levels: the most spread along a row or column of a letterbox or pillarbox bar
MOVING_REACH = 10  # frames either side of the cut in which the picture moves...
MIN_MOVING = 0.02  # ...and at least this share of the picture moves


def best_rectangle(mask: np.ndarray) -> tuple[tuple[int, int, int, int], float]:
    """The axis-aligned rectangle that best fits ``mask`` ``(h, w) bool``: the one maximising
    (changed pixels inside) - (other pixels inside), i.e. the maximum-sum sub-rectangle of
    +1/-1 (Kadane's algorithm over every pair of rows, vectorised). Returns ``((y0, y1, x0,
    x1), iou)`` with half-open bounds and the intersection over union of ``mask`` and the
    rectangle; of tied rectangles the first found (topmost rows, then leftmost end column)
    wins. Raises ValueError for an empty ``mask``."""
    if not mask.any():
        raise ValueError("no pixel set")
    h, w = mask.shape
    rows = np.vstack([np.zeros((1, w)), np.cumsum(np.where(mask, 1.0, -1.0), axis=0)])
    y0, y1 = np.triu_indices(h + 1, k=1)
    cols = rows[y1] - rows[y0]  # (pairs, w): column sums of rows y0..y1-1
    prefix = np.hstack([np.zeros((len(cols), 1)), np.cumsum(cols, axis=1)])
    gain = prefix[:, 1:] - np.minimum.accumulate(prefix[:, :-1], axis=1)
    pair, x1 = np.unravel_index(int(np.argmax(gain)), gain.shape)
    x0 = int(np.argmin(prefix[pair, :x1 + 1]))
    box = (int(y0[pair]), int(y1[pair]), x0, int(x1) + 1)
    inside = np.zeros_like(mask)
    inside[box[0]:box[1], box[2]:box[3]] = True
    return box, float((mask & inside).sum() / (mask | inside).sum())


def _corners(step: np.ndarray, cut_off: tuple[str, ...] = ()) -> float:
    """How much a rectangle's corners change against what its edges predict: ``step`` ``(h,
    w) float32`` (the change over the rectangle, at least 3 x 3). A thumbnail pixel on a
    screen's edge is partly bezel or wall, so it changes by the share of it the screen
    covers, and a corner pixel by the product of the shares of its row and its column: the
    sum of the four corners over the sum of (edge row mean x edge column mean / interior
    mean) is about 1. A round thing's corners lie outside it while its edges' middles do not:
    near 0. Large when the edges and inside hardly change (nothing to predict from).
    ``cut_off``: the sides (``top``, ``bottom``, ``left``, ``right``) where the frame cuts
    the rectangle off; their corners are left out of both sums (the picture goes on past
    them, and a head coming into view from the top changes the whole top row too)."""
    inner = max(float(step[1:-1, 1:-1].mean()), 1e-6)
    rows = {"top": float(step[0, 1:-1].mean()), "bottom": float(step[-1, 1:-1].mean())}
    cols = {"left": float(step[1:-1, 0].mean()), "right": float(step[1:-1, -1].mean())}
    pixels = {("top", "left"): step[0, 0], ("top", "right"): step[0, -1],
              ("bottom", "left"): step[-1, 0], ("bottom", "right"): step[-1, -1]}
    kept = [k for k in pixels if not set(k) & set(cut_off)]
    expected = sum(rows[r] * cols[c] for r, c in kept) / inner
    return float(sum(pixels[k] for k in kept)) / max(expected, 1e-6)


def _picture_box(pair: np.ndarray, live: np.ndarray) -> tuple[int, int, int, int] | None:
    """The picture inside the frame ``(y0, y1, x0, x1)`` (half-open): the thumbnails ``pair``
    ``(2, h, w, 3) uint8`` (the frames either side of a cut) without the bars of
    letterboxed or pillarboxed video, the rows and columns at the frame's edges that are
    flat in both (a spread of at most :data:`BAR_FLAT` levels along them) and never
    change (not ``live``, ``(h, w) bool``). A still room is no bar: it has detail. None
    when every row is such a bar."""
    spread = pair.astype(np.float32)
    rows = (spread.std(axis=2).max(axis=(0, 2)) > BAR_FLAT) | live.any(axis=1)
    cols = (spread.std(axis=1).max(axis=(0, 2)) > BAR_FLAT) | live.any(axis=0)
    ys, xs = np.flatnonzero(rows), np.flatnonzero(cols)
    if not len(ys) or not len(xs):
        return None
    return int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1


def _moves(thumbs: np.ndarray, cut: int, picture: np.ndarray, skip: frozenset[int]) -> bool:
    """Whether something moves in the shot around the cut into frame ``cut``: at least
    :data:`MIN_MOVING` of the ``picture`` pixels ``(h, w) bool`` change by
    :data:`curate.split.overlays.MOVING_LEVEL` levels from frame ``cut - 1`` back to a frame
    up to :data:`MOVING_REACH` frames before it, or from ``cut`` on to one after it, not
    across another cut in ``skip`` (:func:`curate.split.overlays.moved_around`). A
    slideshow of still photographs on a still template changes only at its cuts."""
    moved = moved_around(thumbs, cut - 1, cut, MOVING_REACH, skip)
    return bool((moved & picture).sum() >= MIN_MOVING * picture.sum())


def on_screen(thumbs: np.ndarray, cut: int, live: np.ndarray, skip: frozenset[int] = frozenset()) -> bool:
    """Whether the cut into frame ``cut`` of ``thumbs`` ``(n, h, w, 3) uint8`` changes only a
    screen in view (module docstring). ``live``: the :func:`curate.split.overlays.picture`
    of ``thumbs``, ``(h, w) bool``, which with the frames either side of the cut gives the
    picture without bars (:func:`_picture_box`; a still room inside it counts: it is what
    goes on);
    ``skip``: the frames of the other detected cuts, left out of the usual change around.
    False (the cut stays) also when ``cut`` is not inside ``thumbs``, when no frame around
    it is left to judge the usual change on (other cuts or the video's ends within 3
    frames), or when less than :data:`MIN_REST` of the picture lies outside the rectangle."""
    if not 0 < cut < len(thumbs):
        return False
    frame = _picture_box(thumbs[cut - 1:cut + 1], live)
    if frame is None:
        return False
    fy0, fy1, fx0, fx1 = frame
    picture = np.zeros(live.shape, bool)
    picture[fy0:fy1, fx0:fx1] = True
    step = _change(thumbs, cut - 1, cut)
    changed = (step >= LEVEL) & picture
    if changed.sum() < MIN_ROWS * MIN_COLS:
        return False
    (y0, y1, x0, x1), iou = best_rectangle(changed)
    rows, cols = y1 - y0, x1 - x0
    box = np.zeros(live.shape, bool)
    box[y0:y1, x0:x1] = True
    if rows >= TOLERANCE[0] and cols >= TOLERANCE[1]:  # pixels within one of its edge left out
        rim = np.zeros(live.shape, bool)
        rim[max(y0 - 1, 0):y1 + 1, max(x0 - 1, 0):x1 + 1] = True
        rim[y0 + 1:y1 - 1, x0 + 1:x1 - 1] = False
        iou = float((changed & box & ~rim).sum() / max(((changed | box) & ~rim).sum(), 1))
    cut_off = tuple(side for side, hit in (("top", y0 == fy0), ("bottom", y1 == fy1), ("left", x0 == fx0),
                                           ("right", x1 == fx1)) if hit)
    if (iou < MIN_IOU or rows < MIN_ROWS or cols < MIN_COLS or not ASPECT[0] <= cols / rows <= ASPECT[1]
            or rows * cols > MAX_SHARE * picture.sum() or len(cut_off) > MAX_EDGES or (cut_off and iou < EDGE_IOU)):
        return False
    if _corners(step[y0:y1, x0:x1], cut_off) < MIN_CORNERS:
        return False
    inner = thumbs[cut - 1:cut + 1, y0 + 1:y1 - 1, x0 + 1:x1 - 1].reshape(2, -1, 3).astype(np.float32)
    if float(inner.std(axis=1).max(axis=1).min()) < MIN_DETAIL:
        return False
    if not _moves(thumbs, cut, picture, skip):
        return False
    outside = (cv2.dilate(box.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0) & picture
    around = _usual(thumbs, (cut - 1, cut), skip)
    if outside.sum() < MIN_REST * picture.sum() or not around:
        return False
    usual = max(float(d[outside].mean()) for d in around)
    left = np.abs(thumbs[cut].astype(np.float32) - relit(thumbs[cut - 1], thumbs[cut], outside)).max(axis=2)
    return float(left[outside].mean()) <= OUTSIDE_RATIO * max(usual, 1.0)


def drop_screen_cuts(cuts: list[int], thumbs: np.ndarray, live: Callable[[], np.ndarray],
                     skip: frozenset[int] | None = None) -> list[int]:
    """``cuts`` (sorted frame indices into ``thumbs``) without those on a screen in view
    (:func:`on_screen`). ``live``: :func:`curate.split.overlays.lazy_picture` of ``thumbs``;
    ``skip``: every cut detected before flashes, blinks and overlays were dropped (their
    changes are no usual motion; default: ``cuts``)."""
    skip = frozenset(int(c) for c in cuts) if skip is None else skip
    return [c for c in cuts if not on_screen(thumbs, c, live(), skip)]
