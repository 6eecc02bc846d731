"""Weak hard cuts as isolated spikes of the frame-to-frame picture change.

A jump cut inside one camera or room (the same background, a person shifted) changes the
picture too little for PySceneDetect's content score to pass its threshold, yet far more
than the frames around it change: motion, pans and exposure ramps change every frame
alike. :func:`spike_cuts` finds such frames on the mean absolute change of the 32-pixel
thumbnails (:func:`jumps`); :mod:`curate.split.shots` adds them to the detector's cuts
before the flash filter and the minimum shot length.

A spike whose change is spread thin over the whole picture, with no pixel of the
thumbnails changing by :data:`PEAK_LEVEL` or more, is no jump cut but the encoder's: a
keyframe that restores the detail a low-bitrate GOP had smeared away (old MPEG-4 at
150-200 kbit/s steps its quality at every keyframe). A jump cut moves something, and the
thumbnail pixels where it was or now is change by far more (:func:`moves_something`).

In dim pictures that level is out of reach: two night shots at a tenth of daylight
(thumbnail luma spreads of 5-40 levels) cut together change no pixel by 16 levels, and the
cut was dropped. Between such pictures the level is a quarter of the larger spread (at
least 10 levels), and the pictures' patterns must not correlate as a keyframe's step leaves
them (:func:`dim_change`).

Nor is a light switched on or off in a fixed camera's view (or an exposure step): every
pixel changes, but the picture before, mapped through a gain and offset per channel
(clipped as the camera clips), is the picture after, but for what moved in the meantime
(:func:`relit`). Nor is a security camera switching to infrared at dusk (or back to colour
at dawn): the colour goes at once, and the luma is the luma before under the infrared
light's gain and offset, so a switch between a colour and a greyscale picture is judged
on the luma of both.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from curate.split.lights import lit_in_place
from curate.split.mixfit import tone_residual
from curate.split.transitions import thumb_luma
from curate.split.wipes import LEVEL


def jumps(thumbs: np.ndarray) -> np.ndarray:
    """Mean absolute thumbnail change into each frame: ``(n, h, w, 3) uint8`` -> ``(n,) float32``
    (0-255 levels; frame 0 gets 0)."""
    if len(thumbs) < 2:  # one frame (or none): nothing changes
        return np.zeros(len(thumbs), np.float32)
    d = np.abs(np.diff(thumbs.astype(np.int16), axis=0)).reshape(len(thumbs) - 1, -1).mean(axis=1)
    return np.concatenate([[0.0], d]).astype(np.float32)


REPEAT_LEVEL = 0.25  # levels: a frame changing less than this from the last repeats it


def _neighbours(change: np.ndarray, c: int, half: int, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """The changes of the ``half`` frames before and after ``c``, each side taken further
    (up to ``reach`` frames) until it holds two that are not repeats (``change >=
    REPEAT_LEVEL``), or the one there is when it lies within ``2 * half`` frames (a lone
    change further off is more likely another cut than the next picture)."""
    sides = []
    for idx in (np.arange(c - 1, max(0, c - reach), -1), np.arange(c + 1, min(len(change), c + 1 + reach))):
        moving = np.flatnonzero(change[idx] >= REPEAT_LEVEL)
        if len(moving) == 1 and moving[0] >= 2 * half:
            moving = moving[:0]  # one change far off: another cut, not the next picture of a repeat
        k = max(half, int(moving[min(1, len(moving) - 1)]) + 1) if len(moving) else half
        sides.append(change[idx[:k]])
    return sides[0], sides[1]


def spike_cuts(change: np.ndarray, min_level: float = 2.0, ratio: float = 6.0,
               isolation: float = 3.0, half: int = 5, reach: int = 15) -> list[int]:
    """Weak hard cuts (a jump cut inside one camera or room) as isolated spikes of the
    frame-to-frame change: frames ``c`` with ``change[c]`` (from :func:`jumps`, 0-255
    levels) at least ``min_level``, ``ratio`` times the median and ``isolation`` times the
    largest change of the ``half`` frames on each side. Motion, pans and exposure ramps
    change every frame alike; a flash gives two spikes close together (and
    :func:`curate.split.flashes.drop_flashes` runs after). A spike needs at least two
    changes on each side to be judged.

    A side whose ``half`` frames hold fewer than two new pictures (a 10 fps camera stored
    at 60 fps shows each picture 6 times: its repeats change under :data:`REPEAT_LEVEL`)
    reaches further, up to ``reach`` frames, until it holds two, so that each new picture
    of such footage is judged against the pictures around it and not against its own
    repeats alone (which made every motion step a spike)."""
    out = []
    for c in np.flatnonzero(change >= min_level):
        if c < 3 or c > len(change) - 3:
            continue  # too near an end to tell a spike (the first frames of an encode jump too)
        left, right = _neighbours(change, int(c), half, reach)
        near = np.concatenate([left, right])
        if change[c] >= ratio * max(float(np.median(near)), 0.3) \
                and change[c] >= isolation * float(near.max()):
            out.append(int(c))
    return out


def stepped(cuts: Iterable[int], change: np.ndarray, thumbs: np.ndarray, isolation: float = 2.5,
            half: int = 5, reach: int = 15, share: float = 0.5) -> set[int]:
    """The content detector's ``cuts`` (frame indices into ``thumbs``, ``(n, h, w, 3) uint8``)
    that are motion of a low-rate camera, not cuts: pictures held for several frames (a 10
    fps camera stored at 25 fps) make every new picture a spike of the frame-to-frame
    change, which a content score's rolling average (PySceneDetect's adaptive detector)
    takes for a cut where something large moves close to the lens. A cut ``c`` is such a
    step when at least two of the three frames on each side of it repeat the one before
    (``change`` under :data:`REPEAT_LEVEL`; ``change`` from :func:`jumps`; by the first
    or last frames, where a side holds one or two, all of them: a 12.5 fps camera's first
    new picture is frame 2, where the adaptive score's rolling average holds only repeats,
    and 4 of 160 virtual pans over the street camera had that false cut), it changes less
    than ``isolation`` times the largest of the new pictures around it (the ``half``
    frames on each side, taken further up to ``reach`` past repeats, as
    :func:`spike_cuts` judges them), and under ``share`` of the thumbnail pixels change
    by over :data:`curate.split.wipes.LEVEL` (20 levels of colour distance): something
    moved in one view, where a cut to another place changes almost every pixel (as step 2
    of :mod:`curate.split.wipes` counts them). A break test (a silhouette walking past a 10 fps camera, cropped close):
    each new picture changed the thumbnails by 16-23 levels on average, 22-28 % of their
    pixels by over 20, and four in six were cuts. A second one (cuts in footage of 5-10
    fps): ``isolation`` 2.5 drops 211 false cuts (the new pictures of screen recordings,
    close crops, a dim city: at most 2.2 times their neighbours) and keeps cuts between two
    signs of one signer in one room at 5 fps that changed 2.9-3.0 times theirs; 4 of 258
    true cuts are lost (a signer at 5 fps, 2.3-2.5 times; a cut 7 frames from another)."""
    out = set()
    for c in cuts:
        c = int(c)
        if not 2 <= c <= len(change) - 2:
            continue
        # frame 0 changes from nothing: a side by the first or last frame holds 1-2 frames, all repeats
        sides = (change[max(1, c - 3):c], change[c + 1:c + 4])
        if any(int((side < REPEAT_LEVEL).sum()) < min(2, len(side)) for side in sides):
            continue
        left, right = _neighbours(change, c, half, reach)
        near = np.concatenate([left, right])
        if change[c] >= isolation * float(near.max()):
            continue
        step = thumbs[c].astype(np.float32) - thumbs[c - 1]
        if float((np.sqrt((step * step).sum(axis=-1)) > LEVEL).mean()) < share:
            out.add(c)
    return out


PEAK_LEVEL = 16.0  # levels: the least largest pixel change (mean over channels) of a jump cut


PEAK_SHARE = 0.25  # of the larger luma spread of the two pictures: the peak level of a dim pair
PEAK_FLOOR = 10.0  # levels: the least peak level however dim the pictures
DIM_CORR = 0.8  # a dim pair's patterns correlate under this across a cut


def dim_change(a: np.ndarray, b: np.ndarray, peak: float, level: float = PEAK_LEVEL) -> bool:
    """Whether thumbnails ``a`` and ``b`` (``(h, w, 3) uint8`` BGR), whose largest pixel
    change ``peak`` (0-255) is under ``level``, still show a cut between dim pictures: the
    change reaches :data:`PEAK_SHARE` of the larger of their luma spreads (2nd to 98th
    percentile), and at least :data:`PEAK_FLOOR` levels, and their luma patterns, as means
    of 2 x 2 pixels, correlate under :data:`DIM_CORR`.

    A cut between two shots at a tenth of daylight (spreads of 5-40 levels) changes pixels
    by 11-15 levels, not 16, and their patterns correlate -0.25-0.62. A keyframe's quality
    step in dim, low-bitrate video (x264 crf 34-43, MPEG-2 and MPEG-4 Part 2 at 100-400
    kbit/s) changes pixels by as much; in a break test of 256 dim videos, 40 of the 47 such
    false cuts of 10 levels or more left the pattern in place (0.86-0.99: the 2 x 2 means
    take out most of the block pattern), and 10 of the 17 that did not changed pixels by
    under 10 levels."""
    luma = thumb_luma(np.stack([a, b]))
    lo, hi = np.percentile(luma, [2, 98], axis=1)
    if peak < np.clip(PEAK_SHARE * float((hi - lo).max()), PEAK_FLOOR, level):
        return False
    h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2  # 2 x 2 means: a codec's block noise averages out
    if h and w:
        luma = luma.reshape(2, a.shape[0], a.shape[1])[:, :h, :w].reshape(2, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
        luma = luma.reshape(2, -1)
    dev = luma - luma.mean(axis=1, keepdims=True)
    norm = float(np.sqrt((dev[0] @ dev[0]) * (dev[1] @ dev[1])))
    return float(dev[0] @ dev[1]) < DIM_CORR * norm


def moves_something(thumbs: np.ndarray, c: int, level: float = PEAK_LEVEL) -> bool:
    """Whether some pixel of the thumbnails ``(n, h, w, 3) uint8`` changes by ``level`` or
    more (0-255, mean over channels) from frame ``c - 1`` to ``c``, or the two are dim
    pictures with a cut between them (:func:`dim_change`), and the change is not a relight
    of the same view (:func:`relit`; module docstring) nor light switched on or off in part
    of it (:func:`curate.split.lights.lit_in_place`)."""
    d = np.abs(thumbs[c].astype(np.int16) - thumbs[c - 1].astype(np.int16)).mean(axis=2)
    peak = float(d.max())
    if peak < level and not dim_change(thumbs[c - 1], thumbs[c], peak, level):
        return False
    around = [float(np.abs(thumbs[i].astype(np.int16) - thumbs[i - 1]).mean())
              for i in (c - 1, c + 1) if 1 <= i < len(thumbs)]
    around_level = max(around, default=0.0)
    return not (relit(thumbs[c - 1], thumbs[c], around_level)
                or lit_in_place(thumbs[c - 1], thumbs[c], around_level))


def moving(cuts: Iterable[int], thumbs: np.ndarray) -> set[int]:
    """The ``cuts`` (frame indices into ``thumbs``, ``(n, h, w, 3) uint8``) inside it where
    something in the picture changes clearly (:func:`moves_something`):
    a keyframe that only restores the detail a low-bitrate GOP smeared away lifts the
    content score and the thumbnail change alike, spread thin over the whole picture."""
    return {int(c) for c in cuts if 0 < c < len(thumbs) and moves_something(thumbs, int(c))}


RELIT_SHARE = 0.25  # a relight: a tone change leaves at most this share of the mean change...
RELIT_DETAIL = 0.5  # ...and of the picture's own detail (mean deviation from its mean colour)...
RELIT_LEVEL = 10.0  # ...and 95 % of the pixels within this many levels,
RELIT_MOTION = 2.0  # or no more than this many times the change of the frames around it
RELIT_FLOOR = 1.5  # (taken as at least this many levels: a still scene's noise)
RELIT_SEEN = 0.25  # judged on the pixels the predicting picture does not clip, at least this share
GREY_SPREAD = 1.0  # levels: a picture whose channels differ by less on average is greyscale
LUMA_STILL = 0.1  # an infrared switch changes the luma by at most this share of its detail (or relights it)


def relit(a: np.ndarray, b: np.ndarray, around: float) -> bool:
    """Whether thumbnail ``b`` is thumbnail ``a`` (both ``(h, w, 3) uint8``) under another
    light, with the scene still or moving as it does around them: predicted from each
    other by a per-channel gain and offset with clipping
    (:func:`curate.split.transitions.tone_residual`, each way, so that a flat picture
    cannot pass for a detailed one), the mean residual is at most :data:`RELIT_SHARE` of
    the mean change and :data:`RELIT_DETAIL` of the picture's own detail (its mean
    deviation from its mean colour: in dim, flat night or fog pictures a gain and offset
    map any picture's levels onto another's, and what they leave is as large as the
    detail), and either 95 % of the residual is under :data:`RELIT_LEVEL` levels or its
    mean is at most :data:`RELIT_MOTION` times ``around``, the larger mean change into
    the frame before and out of the frame after (levels; at least :data:`RELIT_FLOOR`).
    Each way counts only the pixels that the predicting picture does not clip (levels
    5-239 in every channel: a wall blown to white tells nothing of how bright it was,
    and a thumbnail pixel over a clipped edge mixes both), and they must be at least
    :data:`RELIT_SEEN` of the picture. On the labelled sets of
    ``bench/split_accuracy.py`` a cut's residual is 42 % or more of its change, a jump
    cut's 66 % or more; a light switched on, 2 %; exposure steps while people walk
    through, 3-17 %. Against the detail: a cut between two dim low-contrast places,
    80-95 %; exposure steps, 2-28 %.

    When one picture is greyscale and the other is not (:func:`_greyscale`: a camera's
    infrared switch), both are judged on their luma (:func:`_luma3`), and a luma change no
    larger than the motion limit above and :data:`LUMA_STILL` of the luma's own detail
    passes at once (the colour went or came, nothing else): on a fixed room switched to
    greyscale the channels change by 23 levels on average and the luma by 0.5; a cut to
    another room in greyscale still fails the tests. A helper's break test (splices of
    real footage, 27 single-shot segments, every ordered pair, in 10 colour/greyscale,
    dim, fog and desaturated variants): 1,146 of the 1,624 infrared switches the rule
    before cut are no cut now (those left clip at gains 1.4-1.6 or move hand-held); of
    7,020 colour/greyscale splices of two segments, 20 cuts are lost, each between two
    stretches of one fixed camera or hand-held table, or two ASL clips of one room made
    dim or foggy: the same view, as with a light switched in a jump cut."""
    limit = RELIT_MOTION * max(around, RELIT_FLOOR)
    if _greyscale(a) != _greyscale(b):  # a camera switching to infrared or back: the luma alone
        a, b = _luma3(a), _luma3(b)
        luma = a[..., 0].astype(np.float32)
        detail = float(np.abs(luma - luma.mean()).mean())
        change = float(np.abs(a.astype(np.int16) - b).mean())
        if change <= limit and change <= LUMA_STILL * detail:
            return True  # the luma changes no more than the frames around: the colour went, or came
    for x, y in ((a, b), (b, a)):
        seen = ((x > 4) & (x < 240)).all(axis=2)
        if seen.mean() < RELIT_SEEN:
            return False
        left = np.abs(tone_residual(x, y)).mean(axis=2)[seen]
        change = float(np.abs(y.astype(np.int16) - x).mean(axis=2)[seen].mean())
        yf = y.astype(np.float32)
        detail = float(np.abs(yf - yf.reshape(-1, 3).mean(axis=0)).mean(axis=2)[seen].mean())
        if left.mean() > RELIT_SHARE * change or left.mean() > RELIT_DETAIL * detail:
            return False
        if np.percentile(left, 95) >= RELIT_LEVEL and left.mean() > limit:
            return False
    return True


def _greyscale(x: np.ndarray) -> bool:
    """Whether an ``(h, w, 3) uint8`` picture has no colour: its channels differ from their
    mean by under :data:`GREY_SPREAD` levels on average."""
    xf = x.astype(np.float32)
    return float(np.abs(xf - xf.mean(axis=2, keepdims=True)).mean()) < GREY_SPREAD


def _luma3(x: np.ndarray) -> np.ndarray:
    """``(h, w, 3) uint8``: the luma of a BGR thumbnail (:func:`curate.split.transitions.thumb_luma`)
    in all three channels."""
    y = thumb_luma(x[None]).reshape(x.shape[:2])
    return np.repeat(np.clip(np.rint(y), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
