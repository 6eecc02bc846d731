"""Lights switched inside one shot: no cuts.

**Switched on or off over part of the view** (:func:`lit_in_place`).
A lamp, a torch or a car's lights switched on over part of the picture brighten that part
at once (switched off, they darken it), and PySceneDetect's content score or a spike of
the thumbnail change fires there. :func:`curate.split.spikes.relit` does not explain it:
one gain and offset per channel cannot brighten a pool of light and leave the rest.

What tells it from a cut is that the view stays: the change goes one way (light added or
taken away: at least :data:`ONE_WAY` of it, summed over the pixels that change more than
the noise, has one sign), and where it changes most (the pixels changing by at least
:data:`REGION_SHARE` of the largest change) the picture's fine structure (its luma less a
Gaussian blur of sigma 1 thumbnail pixel: edges and texture) is the same before and after,
correlating by :data:`MIN_CORR` or more. A cut brings other edges into that region (true
cuts on the labelled sets correlate at most about 0.5 there, most under 0.15), and so does
a jump cut of one camera (a person or a car moved); a pool of light multiplies the texture
it falls on, and keeps it. The structure must be there to be judged: at least
:data:`MIN_DETAIL` levels in both pictures on average over the region (a lamp lighting a
black wall, or a cut between two flat night pictures, is not judged here).

Thumbnails are ``(h, w, 3) uint8`` BGR (:func:`curate.split.transitions.thumbnail`); luma
by :func:`curate.split.transitions.thumb_luma`. A cut between two times of one fixed
camera under other light, where the change goes one way, is judged the same view, as by
:func:`curate.split.spikes.relit`.

**Swept in over a few frames** (:func:`swept`): headlights or a torch beam sweeping into
the view, a door letting light in. Its glare grows and fades over a few frames as a mix of
the picture and the picture under the glare, so the dissolve scan
(:mod:`curate.split.gradual`) takes each leg for a dissolve. The two ends of such a gap
show one view: light only added or only taken away (:data:`ONE_WAY` of the change), and
the fine structure of the whole picture (on the pixels neither end clips) correlating by
:data:`VIEW_CORR` or more, with at least :data:`VIEW_DETAIL` levels of it in each end. The
two ends of a dissolve between shots correlate at most 0.14 on the labelled night sets.
A dissolve between two times of one fixed camera whose light only grows or only fades is
judged the same view too.

**Blinking** (a neon sign, a shop window, a warning or police light: :func:`blinks`).
A light that switches on and off in a fixed camera's view changes part of the picture at
once, as a jump cut does, and PySceneDetect's content score (or a spike of the thumbnail
change, :mod:`curate.split.spikes`) fires at some of its switches. It is no relight of the
whole view (:func:`curate.split.spikes.relit` fits one gain and offset per channel), nor
an overlay (:mod:`curate.split.overlays` wants live picture moving under the region, and a
sign hangs on a still wall).

What tells it from a cut is that it comes back, again and again: the region the change
covers (pixels changing by at least :data:`REGION_LEVEL` levels and :data:`REGION_FACTOR`
times their largest change in the frames around) goes back to the picture before the
change and to the picture after it, over and over, within :data:`WINDOW_S` seconds either
side: at least :data:`MIN_RUNS` runs of frames alternate between the two states (off,
on, off, on: three switches or more), while the rest of the picture goes on as the shot
does (its change at the cut no more than :data:`OUTSIDE_RATIO` times its change around).
A frame is in one state when its region lies within :data:`STATE_SHARE` of the jump
(mean over the region's pixels) of that state and nearer to it than to the other. The
switch adds light to the region or takes it away: :data:`BLINK_ONE_WAY` of its luma
change there has one sign. The region covers :data:`MIN_AREA` thumbnail pixels or more
and at most :data:`MAX_AREA` of the changing picture (:func:`curate.split.overlays.picture`):
a cut between two cameras changes most of it. A jump cut of one fixed camera brings in a
person or a car that moves on, so its region never returns to both states. Cutting back
and forth between two people or two framings against one wall, or between the pictures
of an inset, does return, but a person is no light: the change goes both ways (on a
helper's break test, 50-88 % one way, against 99-100 % for signs; the first version of
this rule, without the test, lost 54 such cuts of 365). A cut onto a strobe flash whose
region is a few pixels is not judged either.

**A relit copy** (:func:`relit_copy`): one frame is another under other light (a flash, a
lamp) where the change goes one way and the fine structure stays; the short-shot rule
(:mod:`curate.split.inserts`) and the flash filter (:mod:`curate.split.flashes`) ask it.

Thumbnails are ``(n, h, w, 3) uint8`` (:func:`curate.split.transitions.thumbnail`), frame
indices 0-based in decode order. Judging a change by the picture coming back is the idea
of :mod:`curate.split.flashes` (over frames) and :mod:`curate.split.overlays` (once, over
seconds); here it recurs.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from curate.split.overlays import OUTSIDE_RATIO, REGION_FACTOR, REGION_LEVEL
from curate.split.transitions import thumb_luma

ONE_WAY = 0.9  # share of the change (levels summed over changing pixels) of one sign
NOISE_LEVEL = 4.0  # levels: a pixel changing by more (and twice the change around) changes
REGION_SHARE = 0.25  # the region judged: pixels changing by this share of the largest change
MIN_CORR = 0.7  # fine structure before and after, on the region, correlates at least this
MIN_DETAIL = 2.0  # levels: mean fine structure of each picture on the region, at least
MIN_PIXELS = 4  # changing pixels needed to judge at all
VIEW_CORR = 0.6  # a gap's two ends: fine structure of the whole picture correlates at least this
VIEW_DETAIL = 1.5  # levels: mean fine structure of each end (unclipped pixels), at least
UNCLIPPED = (4.0, 251.0)  # luma levels: a pixel at or beyond these is clipped
RELIT_CORR = 0.4  # relit_copy: fine structure of the copy and its original correlates at least this
RELIT_SEEN = 0.25  # relit_copy: share of pixels neither picture clips, needed to compare structure


def luma_f32(x: np.ndarray) -> np.ndarray:
    """Luma of one ``(h, w, 3) uint8`` thumbnail (:func:`curate.split.transitions.thumb_luma`),
    ``(h, w) float32`` levels 0-255."""
    return thumb_luma(x[None]).reshape(x.shape[:2]).astype(np.float32)


def fine(luma: np.ndarray) -> np.ndarray:
    """The fine structure of a luma thumbnail ``(h, w) float32``: itself less its Gaussian
    blur (sigma 1 pixel, edges reflected), ``(h, w) float32`` levels."""
    return luma - cv2.GaussianBlur(luma, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT)


def lit_in_place(a: np.ndarray, b: np.ndarray, around: float) -> bool:
    """Whether thumbnail ``b`` is thumbnail ``a`` (both ``(h, w, 3) uint8``) with light
    added to or taken from part of the view (module docstring). ``around``: the mean
    change (levels) of the frames around the pair, which sets the noise: a pixel changes
    when it moves by more than :data:`NOISE_LEVEL` and twice ``around``."""
    la, lb = luma_f32(a), luma_f32(b)
    d = lb - la
    if not one_way(d, max(NOISE_LEVEL, 2.0 * around)):
        return False
    region = np.abs(d) >= REGION_SHARE * float(np.abs(d).max())
    return _correlate(fine(la)[region], fine(lb)[region], MIN_DETAIL, MIN_CORR)


def one_way(d: np.ndarray, level: float, share: float = ONE_WAY) -> bool:
    """Whether ``share`` of the luma change ``d`` ``(h, w) float32``, summed over the pixels
    changing by more than ``level``, has one sign (at least :data:`MIN_PIXELS` of them)."""
    changing = np.abs(d) > level
    if changing.sum() < MIN_PIXELS:
        return False
    up, down = float(d[changing].clip(0, None).sum()), float((-d[changing]).clip(0, None).sum())
    return max(up, down) >= share * (up + down)


def _correlate(fa: np.ndarray, fb: np.ndarray, detail: float, limit: float) -> bool:
    """Whether fine structures ``fa`` and ``fb`` (1-D, levels) each have a mean magnitude of
    ``detail`` or more and correlate by ``limit`` or more."""
    if not fa.size or min(float(np.abs(fa).mean()), float(np.abs(fb).mean())) < detail:
        return False
    dot, norm = _dot_norm(fa, fb)
    return norm > 0 and dot >= limit * norm


def _dot_norm(fa: np.ndarray, fb: np.ndarray) -> tuple[float, float]:
    """Dot product of ``fa`` and ``fb`` (1-D, levels) less their means, and the product of
    their norms: the correlation is the one over the other (the norm 0 for a flat one)."""
    fa, fb = fa - fa.mean(), fb - fb.mean()
    return float(fa @ fb), float(np.sqrt((fa @ fa) * (fb @ fb)))


def swept(thumbs: np.ndarray, start: int, end: int) -> bool:
    """Whether the would-be gradual transition ``[start, end)`` of ``thumbs`` ``(n, h, w, 3)
    uint8`` is light swept into or out of one view (module docstring): frames ``start - 1``
    and ``end`` are one view with light only added or only taken away."""
    if start < 1 or end >= len(thumbs) or end <= start:
        return False
    la, lb = luma_f32(thumbs[start - 1]), luma_f32(thumbs[end])
    if not one_way(lb - la, NOISE_LEVEL):
        return False
    seen = _unclipped(la) & _unclipped(lb)
    return _correlate(fine(la)[seen], fine(lb)[seen], VIEW_DETAIL, VIEW_CORR)


def _unclipped(luma: np.ndarray) -> np.ndarray:
    """``(h, w) bool``: pixels of a luma thumbnail strictly inside :data:`UNCLIPPED`."""
    return (luma > UNCLIPPED[0]) & (luma < UNCLIPPED[1])


def relit_copy(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether thumbnail ``y`` is thumbnail ``x`` (both ``(h, w, 3) uint8``) under other
    light (a flash, a lamp; :mod:`curate.split.inserts`, :mod:`curate.split.flashes`):
    :data:`ONE_WAY` of the luma change one way, and the fine structure of the
    pixels neither clips correlating by :data:`RELIT_CORR` or more; a pair clipped over all
    but :data:`RELIT_SEEN` of the picture (a flash that blows the view out) counts as one.
    A frame that hardly changes (fewer than 4 pixels by more than 4 levels) is none: no
    light was added or taken away."""
    lx, ly = luma_f32(x), luma_f32(y)
    if not one_way(ly - lx, NOISE_LEVEL, ONE_WAY):
        return False
    seen = _unclipped(lx) & _unclipped(ly)
    if seen.sum() < RELIT_SEEN * seen.size:
        return True
    dot, norm = _dot_norm(fine(lx)[seen], fine(ly)[seen])
    return norm == 0 or dot >= RELIT_CORR * norm


def drop_swept(gaps: list[tuple[int, int]], thumbs: np.ndarray,
               scanned: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``gaps`` (half-open frame intervals into ``thumbs``) without those of the dissolve
    and wipe scan (``scanned``, :mod:`curate.split.gradual`: blank holds and other gaps are
    not judged) that :func:`swept` explains. Called after
    :mod:`curate.split.overlay_fades` has paired the fades of an overlay, which may each
    look swept in alone."""
    judged = {tuple(g) for g in scanned}
    return [g for g in gaps if tuple(g) not in judged or not swept(thumbs, g[0], g[1])]


# A switch's region is found as an overlay's is (:mod:`curate.split.overlays`): pixels changing
# by REGION_LEVEL levels (largest over channels) and REGION_FACTOR times their largest change
# in the frames around, the rest changing at most OUTSIDE_RATIO times as usual.
MAX_AREA = 0.5  # share of the changing picture the region covers at most
MIN_PICTURE = 0.25  # ...taken as at least this share of the frame (a still view changes nowhere else)
MIN_AREA = 12  # thumbnail pixels the region covers at least
BLINK_ONE_WAY = 0.95  # share of the region's luma change of one sign: light added or taken away
OUTSIDE_FLOOR = 1.5  # levels: the least usual change (a still scene's noise)
STATE_SHARE = 0.35  # a frame is in a state when its region lies this close to it (share of the jump)
MIN_RUNS = 4  # alternating runs of the two states: off, on, off, on
WINDOW_S = 3.0  # seconds either side of the cut in which they are looked for
AROUND = 3  # frames either side whose change sets the usual change


def typical(steps: list[float]) -> float:
    """The usual change outside a switch's region over the frames around it (levels): their
    median. Not the largest: in fast-cut footage (a shot every 3-6 frames) the frames
    around hold other cuts, whose whole-picture change had let a cut pass as one switch of
    a light (``bench/montage_accuracy.py``)."""
    return float(np.median(steps))


def _region(thumbs: np.ndarray, c: int, live: np.ndarray) -> np.ndarray | None:
    """The pixels ``(h, w) bool`` the cut into frame ``c`` changes (module docstring), or
    None when they are fewer than :data:`MIN_AREA`, they cover more than :data:`MAX_AREA`
    of the ``live`` picture (taken as at least :data:`MIN_PICTURE` of the frame: in a still
    view only the light itself changes), or the rest of the frame (still bars and walls
    included) changes more than it does around the cut."""
    lo = max(0, c - AROUND - 1)
    x = thumbs[lo:c + AROUND + 1].astype(np.float32)
    k = c - lo
    step = np.abs(x[k] - x[k - 1]).max(axis=2)
    around = [np.abs(x[i] - x[i - 1]).max(axis=2) for i in range(1, len(x)) if i != k]
    if not around:
        return None
    usual = np.max(around, axis=0)
    region = step >= np.maximum(REGION_LEVEL, REGION_FACTOR * usual)
    picture_area = max(int(live.sum()), int(MIN_PICTURE * live.size))
    if region.sum() < MIN_AREA or region.sum() > MAX_AREA * picture_area:
        return None
    outside = cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0
    if not outside.any():
        return None
    usual_out = typical([float(d[outside].mean()) for d in around])
    if float(step[outside].mean()) > OUTSIDE_RATIO * max(usual_out, OUTSIDE_FLOOR):
        return None
    return region


def blinks(thumbs: np.ndarray, c: int, fps: float, live: np.ndarray) -> bool:
    """Whether the cut into frame ``c`` (``0 < c < n``) is one switch of a light blinking in
    one shot (module docstring): its region alternates between the picture before and
    after the cut in :data:`MIN_RUNS` runs or more within :data:`WINDOW_S` seconds either
    side. ``thumbs``: ``(n, h, w, 3) uint8``; ``fps``: frames per second; ``live``: the
    changing picture ``(h, w) bool`` (:func:`curate.split.overlays.picture`)."""
    if not 0 < c < len(thumbs):
        return False
    region = _region(thumbs, c, live)
    if region is None or not one_way(np.where(region, luma_f32(thumbs[c]) - luma_f32(thumbs[c - 1]), 0.0),
                                      NOISE_LEVEL, BLINK_ONE_WAY):
        return False
    reach = max(2, int(round(WINDOW_S * fps)))
    lo, hi = max(0, c - reach), min(len(thumbs), c + reach + 1)
    seq = thumbs[lo:hi][:, region].astype(np.float32)  # (m, k, 3)
    off, on = thumbs[c - 1][region].astype(np.float32), thumbs[c][region].astype(np.float32)
    jump = float(np.abs(on - off).max(axis=1).mean())
    d_off = np.abs(seq - off).max(axis=2).mean(axis=1)
    d_on = np.abs(seq - on).max(axis=2).mean(axis=1)
    near = STATE_SHARE * jump
    states = np.where((d_off <= near) & (d_off < d_on), 0, np.where((d_on <= near) & (d_on < d_off), 1, -1))
    runs, last = 0, -1
    for s in states[states >= 0]:
        if s != last:
            runs, last = runs + 1, s
    return runs >= MIN_RUNS


def drop_blinks(cuts: list[int], thumbs: np.ndarray, fps: float,
                live: Callable[[], np.ndarray]) -> list[int]:
    """``cuts`` (sorted frame indices into ``thumbs``) without those that are one switch of a
    blinking light (:func:`blinks`). ``live``: :func:`curate.split.overlays.lazy_picture`
    of ``thumbs`` (measured only when a cut is judged)."""
    return [c for c in cuts if not blinks(thumbs, c, fps, live())]
