"""Blinking lights inside one shot: a neon sign, a shop window, a warning or police light.

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
(mean over the region's pixels) of that state and nearer to it than to the other. A jump
cut of one fixed camera brings in a person or a car that moves on, so its region never
returns to both states; a cut between two cameras changes most of the picture (the region
may cover at most :data:`MAX_AREA` of the changing picture,
:func:`curate.split.overlays.picture`). Shot/reverse-shot cutting between two insets of
a split screen, or of a picture-in-picture, is judged a blink (it is one, in shape).

Thumbnails are ``(n, h, w, 3) uint8`` (:func:`curate.split.transitions.thumbnail`), frame
indices 0-based in decode order. Judging a change by the picture coming back is the idea
of :mod:`curate.split.flashes` (over frames) and :mod:`curate.split.overlays` (once, over
seconds); here it recurs.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

REGION_LEVEL = 12.0  # levels: the least change (largest over channels) of a blinking pixel
REGION_FACTOR = 3.0  # ...and at least this many times its largest change in the frames around
MAX_AREA = 0.5  # share of the changing picture the region covers at most
OUTSIDE_RATIO = 2.0  # outside the region, the frame changes at most this many times as usual
OUTSIDE_FLOOR = 1.5  # levels: the least usual change (a still scene's noise)
STATE_SHARE = 0.35  # a frame is in a state when its region lies this close to it (share of the jump)
MIN_RUNS = 4  # alternating runs of the two states: off, on, off, on
WINDOW_S = 3.0  # seconds either side of the cut in which they are looked for
AROUND = 3  # frames either side whose change sets the usual change


def _region(thumbs: np.ndarray, c: int, live: np.ndarray) -> np.ndarray | None:
    """The pixels ``(h, w) bool`` the cut into frame ``c`` changes (module docstring), or
    None when there are none, they cover more than :data:`MAX_AREA` of the ``live``
    picture, or the rest of the picture changes more than the shot does around the cut."""
    lo = max(0, c - AROUND - 1)
    x = thumbs[lo:c + AROUND + 1].astype(np.float32)
    k = c - lo
    step = np.abs(x[k] - x[k - 1]).max(axis=2)
    around = [np.abs(x[i] - x[i - 1]).max(axis=2) for i in range(1, len(x)) if i != k]
    if not around:
        return None
    usual = np.max(around, axis=0)
    region = step >= np.maximum(REGION_LEVEL, REGION_FACTOR * usual)
    if not region.any() or region.sum() > MAX_AREA * max(int(live.sum()), 1):
        return None
    outside = (cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0) & live
    if not outside.any():
        return None
    usual_out = max(float(d[outside].mean()) for d in around)
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
    if region is None:
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
