"""Graphic overlays inside one shot: a lower third, a title, a news bar, a score box shown
and taken away.

An overlay that appears over a shot changes part of the picture at once, as a cut does,
and PySceneDetect's content score (and the jump-cut spikes of :mod:`curate.split.spikes`)
fire when it appears and again when it goes. What tells it from a cut is what happens
around it, on the 32-pixel thumbnails of :func:`curate.split.transitions.thumbnail`:

- each of its two changes is local: the pixels changing by at least :data:`REGION_LEVEL`
  levels and :data:`REGION_FACTOR` times their own largest change in the frames around
  (other cuts left out) cover at most :data:`MAX_AREA` of the picture, and the rest of the
  picture (but for the ring of pixels next to them; at least :data:`MIN_REST` of it)
  changes at most :data:`OUTSIDE_RATIO` times as much as it does from frame to frame
  around (the shot goes on: its motion, not a new picture). The picture is the pixels
  that change somewhere in the video (:func:`picture`): the bars of letterboxed or phone
  video, a branded frame or a slide template never do, and a cut inside them is a cut.
  A title shown over the shot dimmed (or brightened) behind it changes every pixel: the
  change left after the picture before is brought to the new light by a gain per channel
  (a mean gain of at least :data:`curate.split.overlay_light.MIN_TONE`, or at most its
  inverse: no exposure drift) is judged instead;
- the two changes cover about the same region (:data:`MIN_OVERLAP`), and it is not a frame
  around the picture (half of each edge or more: an iris or a shrinking picture is a
  transition);
- the region holds still while the overlay shows: on average over up to
  :data:`HELD_SAMPLES` of its frames, :data:`MIN_HELD` of the pixels both changes cover
  stay within half their first change (graphics do not move; a car or a person that a
  jump cut brought in does);
- the shot comes back when it goes: on those pixels, the frame after it differs from the
  frame before it appeared (under the light of the frame after: a gain and offset per
  channel fitted outside the region, as the camera's exposure moves meanwhile) by at most
  :data:`MAX_LEFT` of the first change, on average;
- the shot moves outside the region, and under it, before it shows and after it goes
  (:func:`_shot_moves_outside`): an overlay leaves part of a moving shot in view and
  covers live picture, while a cut inside a box whose bars flicker or drift, or whose
  first shot filled the frame, changes everything that moves, and a slide deck going back
  to a slide beside a moving inset changes a region that held still. Over a still shot,
  or a still part of one, an overlay is not judged.

A jump cut of one fixed camera, or another signer in the same room, is local too, but
what it brings in moves, or the cut after it does not bring the first picture back, or
the camera moved and the rest of the picture changed with it; a cut to another place
changes most of the picture. One panel of a split screen, or a picture-in-picture inset,
cutting away and back over a moving main picture is judged an overlay (it is one, in
shape). Both ends must be cuts: when a detector fires at one end only, that cut stays
(a first version looked for the other end among the frames between the neighbouring
cuts, and a break test found it dropping the one detected end of a cut away and back
whose other end the detector had missed). The cuts of an overlay are dropped: the shot
goes on under it, so it is one clip. An overlay that stays until the shot ends is not
judged; one that fades in or out is judged by :mod:`curate.split.overlay_fades` with the
same tests, its ends the frames either side of each fade. Frame indices are 0-based, in
decode order. Judging a change by the picture coming back is
:mod:`curate.split.flashes`'s idea, over seconds instead of frames, and on a part of the
picture.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import cv2
import numpy as np

from curate.split.overlay_light import detail, relit, toned

REGION_LEVEL = 12.0  # levels: the least change (largest over channels) of an overlay's pixel
REGION_FACTOR = 3.0  # ...and at least this many times its own largest change in the frames around
MAX_AREA = 0.75  # share of the picture (:func:`picture`) an overlay covers at most
OUTSIDE_RATIO = 2.0  # outside the region, the frame changes at most this many times as usual
MIN_HELD = 0.6  # share of the region's pixels held still while the overlay shows (mean over...)
HELD_SAMPLES = 16  # ...this many of its frames at most, evenly spaced)
MOVING_LEVEL = 6.0  # levels: a pixel changing this much moves...
MOVING_REACH = 25  # ...within this many frames out from an overlay's ends...
MIN_MOVING = 0.25  # ...and this share of the moving pixels must lie outside it
MIN_MOVED = 0.05  # share of the picture that must move (more than an encoder's noise on edges)
MIN_UNDER = 0.05  # share of the overlay's region that must move before it shows or after it goes
MAX_LEFT = 0.5  # what the shot coming back leaves of the overlay's change, on average, at most
PAD_RANGE = 8  # levels: a pixel changing no more than this in the whole video is no picture
TONE_FLOOR = 2.0  # levels: the least usual change the rest of such a picture is judged against
MIN_REST = 0.15  # share of the picture that must lie outside an overlay (and its ring)
MIN_OVERLAP = 0.5  # the regions of an overlay's two ends: intersection over union at least


def _change(thumbs: np.ndarray, a: int, b: int) -> np.ndarray:
    """Per-pixel change from frame ``a`` to ``b``: the largest over channels, ``(h, w) float32``."""
    return np.abs(thumbs[b].astype(np.float32) - thumbs[a].astype(np.float32)).max(axis=2)


def _usual(thumbs: np.ndarray, end: tuple[int, int], skip: frozenset[int] = frozenset(),
           half: int = 3) -> list[np.ndarray]:
    """The per-pixel changes over as many frames as the change ``end`` (from frame ``end[0]``
    to ``end[1]``) spans, into the ``half`` frames up to ``end[0]`` and out of ``end[1]``
    into the ``half`` after (the shot around a cut or a fade: over a fade's length a moving
    shot changes more than from frame to frame), but for those crossing the frames in
    ``skip`` (other cuts: an overlay shown a few frames after a cut is judged against the
    shot, not the cut)."""
    p, q = end
    k = q - p
    ends = (*range(p - half + 1, p + 1), *range(q + k, q + k + half))
    return [_change(thumbs, i - k, i) for i in ends
            if k <= i < len(thumbs) and not any(j in skip for j in range(i - k + 1, i + 1))]


def picture(thumbs: np.ndarray) -> np.ndarray:
    """The pixels ``(h, w) bool`` of ``thumbs`` ``(n, h, w, 3) uint8`` that change by more
    than :data:`PAD_RANGE` levels somewhere in them: the picture, without the bars of
    letterboxed, pillarboxed or phone video, a branded frame around it or a station logo,
    which never change. A cut inside such a box changes the picture only, so judged
    against the whole frame it would look local, like an overlay."""
    lo, hi = thumbs.min(axis=0), thumbs.max(axis=0)
    return ((hi.astype(np.int16) - lo) > PAD_RANGE).any(axis=2)


class _End(NamedTuple):
    """One end of a would-be overlay: what the cut into its frame changes (:func:`_region`)."""

    region: np.ndarray  # (h, w) bool: the pixels the change covers
    step: np.ndarray  # (h, w) float32: the change they were judged on (levels)
    floor: float  # levels: the least usual change to judge the rest of the picture against
    around: list[np.ndarray]  # the per-pixel changes of the frames around (:func:`_usual`)


def _region(thumbs: np.ndarray, end: tuple[int, int], live: np.ndarray,
            skip: frozenset[int] = frozenset()) -> _End | None:
    """The end ``(p, q)``, a change from frame ``p`` to frame ``q`` (``(c - 1, c)`` for a
    cut into frame ``c``; the frames either side of a fade): the pixels that change by at least
    :data:`REGION_LEVEL` and :data:`REGION_FACTOR` times their own largest change in the
    frames around (footage stored at a higher rate than it was shot repeats each picture,
    and only every few frames move), with the change they were judged on and the floor
    for :func:`_rest_goes_on`; None when there are none or they cover more than
    :data:`MAX_AREA` of the ``live`` picture (:func:`picture`: a cut, or too little of the
    shot left to judge).
    When the plain change covers too much, the change left after the picture before is
    brought to the light of frame ``q`` (:func:`curate.split.overlay_light.toned`) is judged instead: a title over
    the shot dimmed behind it (judged against :data:`TONE_FLOOR`: levels rounded in the
    dim picture come back larger). ``skip``: as for :func:`_usual`."""
    p, q = end
    if not 0 <= p < q < len(thumbs):
        return None
    around = _usual(thumbs, end, skip)
    if not around:
        return None
    level = np.maximum(REGION_LEVEL, REGION_FACTOR * np.max(around, axis=0))
    step, floor = _change(thumbs, p, q), 1.0
    region = step >= level
    if region.sum() > MAX_AREA * live.sum() and q - p == 1:  # a cut: the toned change (not over a fade)
        step, floor = toned(thumbs, end, live), TONE_FLOOR
        if step is None:
            return None
        region = step >= level
    return _End(region, step, floor, around) if region.any() and region.sum() <= MAX_AREA * live.sum() else None


def _rest_goes_on(end: _End, region: np.ndarray, live: np.ndarray) -> bool:
    """Whether, on the ``live`` picture outside ``region`` and the ring of pixels next to
    it (a thumbnail pixel on an overlay's edge mixes both), which must be at least
    :data:`MIN_REST` of the live picture, the change at ``end`` is no more than
    :data:`OUTSIDE_RATIO` times the largest change of the frames around it (at least its
    floor in levels: a still shot)."""
    outside = (cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0) & live
    if outside.sum() < MIN_REST * live.sum():
        return False
    usual = max(float(d[outside].mean()) for d in end.around)
    return float(end.step[outside].mean()) <= OUTSIDE_RATIO * max(usual, end.floor)


def is_overlay(thumbs: np.ndarray, on: int, off: int, live: np.ndarray | None = None,
               skip: frozenset[int] = frozenset()) -> bool:
    """Whether the cuts at frames ``on < off`` (no other cut between them) are an overlay
    shown over one shot from ``on`` to ``off``: :func:`shown_between` with the ends
    ``(on - 1, on)`` and ``(off - 1, off)``."""
    return shown_between(thumbs, (on - 1, on), (off - 1, off), live, skip)


def shown_between(thumbs: np.ndarray, first: tuple[int, int], last: tuple[int, int],
                  live: np.ndarray | None = None, skip: frozenset[int] = frozenset()) -> bool:
    """Whether the change ``first`` (from frame ``first[0]`` to ``first[1]``: a cut, or the
    frames either side of a fade) and the change ``last`` after it, nothing else between
    them, are an overlay shown over one shot (module docstring): each change is local,
    their regions overlap by at least :data:`MIN_OVERLAP` (intersection over union), the
    rest of the picture goes on at both, the shot moves outside it, and on the pixels both
    changed the overlay holds still and the shot comes back. ``thumbs``: ``(n, h, w, 3)
    uint8``; ``live``: their :func:`picture` (computed when not given); ``skip``: the frames
    of other cuts and transitions (:func:`_usual`)."""
    (p1, q1), (p2, q2) = first, last
    if not 0 <= p1 < q1 < p2 < q2 < len(thumbs) or p2 - q1 < 1:
        return False
    live = picture(thumbs) if live is None else live
    head, tail = _region(thumbs, first, live, skip), _region(thumbs, last, live, skip)
    if head is None or tail is None:
        return False
    both, either = head.region & tail.region, head.region | tail.region
    if min(either[0].mean(), either[-1].mean(), either[:, 0].mean(), either[:, -1].mean()) >= 0.5:
        return False  # a frame around the picture: an iris or a shrinking picture, a transition
    if both.sum() < MIN_OVERLAP * either.sum():
        return False
    if not (_rest_goes_on(head, either, live) and _rest_goes_on(tail, either, live)):
        return False
    if not _shot_moves_outside(thumbs, p1, q2, either, live, skip):
        return False
    jump = head.step[both]
    shown = np.unique(np.linspace(q1 + 1, p2, HELD_SAMPLES).round().astype(int))
    if float(np.mean([(_change(thumbs, q1, t)[both] < 0.5 * jump).mean() for t in shown])) < MIN_HELD:
        return False
    after = thumbs[q2].astype(np.float32)
    left = np.abs(after - relit(thumbs[p1], thumbs[q2], ~either)).max(axis=2)[both]
    return float(left.mean()) <= MAX_LEFT * float(jump.mean())


def _shot_moves_outside(thumbs: np.ndarray, before: int, after: int, region: np.ndarray, live: np.ndarray,
                        skip: frozenset[int]) -> bool:
    """Whether the shot moves outside ``region`` (and its ring) before the overlay shows
    and after it goes: of the ``live`` pixels that change by :data:`MOVING_LEVEL` levels or
    more from frame ``before`` (or ``after``) to a frame up to :data:`MOVING_REACH` frames
    further out (every 5th, not across another cut in ``skip``), at least
    :data:`MIN_MOVING` lie outside. An overlay leaves part of a moving shot in view; a cut
    inside a box (letterboxed, pillarboxed or phone video whose bars flicker, or whose
    first shot filled the frame, so that the bars count as picture) changes all the
    pixels that move, and so does a slide. The shot also moves under the region (at least
    :data:`MIN_UNDER` of it): a graphic covers live picture, while a slide deck going
    back to a slide beside a speaker's moving inset changes a region that held still
    before and after (a break test lost such decks' cuts and dissolves). Only pixels with
    detail count (:func:`curate.split.overlay_light.detail`): flat bars or a flat frame
    that flicker or cycle their colour do not move. Over a still shot nothing moves (under
    :data:`MIN_MOVED` of the picture): not judged, nor over a still part of a shot."""
    moved = moved_around(thumbs, before, after, MOVING_REACH, skip, every=5)
    moved &= live & (detail(thumbs[before]) | detail(thumbs[after]))
    outside = (cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0) & moved
    return (moved.sum() >= MIN_MOVED * live.sum() and outside.sum() >= MIN_MOVING * moved.sum()
            and (moved & region).sum() >= MIN_UNDER * region.sum())


def moved_around(thumbs: np.ndarray, before: int, after: int, reach: int, skip: frozenset[int],
                 every: int = 1) -> np.ndarray:
    """The pixels ``(h, w) bool`` of ``thumbs`` ``(n, h, w, 3) uint8`` that change by
    :data:`MOVING_LEVEL` levels or more from frame ``before`` to a frame up to ``reach``
    frames before it, or from frame ``after`` to one up to ``reach`` frames after it (every
    ``every``-th frame out), not across a cut into a frame in ``skip``."""
    moved = np.zeros(thumbs.shape[1:3], bool)
    for start, step in ((before, -1), (after, 1)):
        t = start + step
        while 0 <= t < len(thumbs) and abs(t - start) <= reach and (t if step > 0 else t + 1) not in skip:
            if abs(t - start) % every == 0:
                moved |= _change(thumbs, start, t) >= MOVING_LEVEL
            t += step
    return moved


def drop_overlays(cuts: list[int], thumbs: np.ndarray,
                  live: Callable[[], np.ndarray] | None = None) -> list[int]:
    """``cuts`` (sorted frame indices into ``thumbs``) without each pair of neighbouring
    cuts that :func:`is_overlay` explains; a cut belongs to one pair at most. A lone cut is
    kept even when a frame no detector marked could be the other end: detectors miss jump
    cuts of one camera, and one end of a cut away and back is a boundary still. ``live``:
    :func:`lazy_picture` of ``thumbs``, shared with the fading-overlay pass."""
    out, i = [], 0
    live, skip = live or lazy_picture(thumbs), frozenset(int(c) for c in cuts)
    while i < len(cuts):
        if i + 1 < len(cuts) and is_overlay(thumbs, cuts[i], cuts[i + 1], live(), skip):
            i += 2
            continue
        out.append(cuts[i])
        i += 1
    return out


def lazy_picture(thumbs: np.ndarray) -> Callable[[], np.ndarray]:
    """A function giving the :func:`picture` of ``thumbs``, measured on its first call (only
    where a pair of boundaries is judged) and kept for the rest of the detection pass."""
    return functools.cache(lambda: picture(thumbs))
