"""Is one clip an edited copy of another? Signature distance with crop and time search.

Two signatures (:mod:`curate.dedup.signature`) are compared in three steps:

1. **geometry**: the mean thumbnail of one clip, its border ``size/16`` trimmed, is
   located in the other's mean thumbnail scaled by 1.00 .. 1.43 and turned by up to
   +-10.5 degrees (normalised cross-correlation, OpenCV's ``TM_CCOEFF_NORMED``, by FFT with each clip's
   placements transformed once per task, :mod:`curate.dedup.ncc`; :func:`geometry`),
   both ways round (turns only the way round the unturned search chose): a crop of up
   to ~30 % of each side at any position, a rescale and a small rotation become one
   scale, angle and offset;
2. **frame similarities** under that geometry: appearance, the normalised correlation
   of every frame pair (brightness, contrast and most of a gamma change cancel out),
   and motion, the correlation of each frame minus its clip's mean frame (what moves:
   two clips of one fixed camera or one room differ there first);
3. **alignment over time** (each clip's thumbnails first doubled in rate by blending
   neighbours, so a shift of half a frame interval still meets a frame): frame ``i``
   of one clip meets the frame of the other nearest ``speed * t_i + offset``, for speeds 0.8 .. 1.25 and every offset leaving
   at least 60 % of the shorter clip overlapping, and 60 % of its activity (the frames
   where something moves in front of a still background, :func:`curate.dedup.align.activity`); the best mean
   wins (time shifts, trims and speed changes), both ways round.

The distance is ``(1 - appearance) + motion_weight * (1 - motion)``, the motion term
counted when either clip moves (mean absolute difference from their mean frame over
``motion_level`` luma levels); 0 for identical clips. ``motion_weight`` 0.15 and the
stage's ``edit_distance`` 0.06 were tuned on the ``tuning`` split of
``bench/dedup_pairs.py`` (real footage with planted edits; its hardest negative is two
signs of one signer in one room, ``yes``/``no``, where only the hand differs: the static
room makes appearance alone near 0.03 apart, as close as an edited copy, so what moves
must weigh enough to tell them apart, while copies of clips with little motion, whose
motion correlation is mostly noise, keep within the threshold). The wider crop and
angle search (before: crops to ~10 %, no rotation) were checked on that split with its
15-30 % crops and 2-8 degree turns; they add no false pair there, on the held-out splits
or on the footage run, and cost about 3x per candidate (``bench/dedup_accuracy.py``). A
half overlap (instead of 60 %) found more half-window shifts but paired 10 s windows of
the fixed indoor camera whose empty-room halves align, so it was not kept. A news bar,
ticker or subtitles over one clip: step 2 then compares the rows outside the band
(:mod:`curate.dedup.overlay`, which also says why only a band that passes its tests:
masking every pixel two clips disagree on made windows of one fixed camera, other
people in the same street, pairs).
"""

from __future__ import annotations

import cv2
import numpy as np

from curate.dedup import overlay
from curate.dedup.align import activity, best_alignment
from curate.dedup.ncc import MeanShapes, best_matches
from curate.dedup.overlay import overlay_rows
from curate.dedup.signature import Signature

# 2 % steps up to a ~10 % crop, then coarser up to 1.43 (30 % of each side cut)
SCALES = tuple(float(s) for s in np.round(np.arange(1.0, 1.13, 0.02), 2)) + (1.16, 1.2, 1.25, 1.3, 1.36, 1.43)
ANGLES = (-9.0, -6.0, -3.0, 3.0, 6.0, 9.0)  # degrees, a turned re-upload or a tilted re-shoot
# ``crops_only``: unturned, scale 1 (a copy under a tall bar), then crops of 5 % of each side or more
CROP_SCALES = (1.0,) + tuple(s for s in SCALES if s >= 1.1)
NEAR = 2  # scales on either side of the unturned best at which ANGLES are tried
REFINE = 1.5  # degrees either side of the best angle tried last
# a placement replaces the best so far only when its correlation is higher by more than
# this (single-precision rounding; at scale 1, unturned, both ways round are one comparison)
TIE = 1e-5


def _unit(x: np.ndarray) -> np.ndarray:
    x = x.reshape(len(x), -1)
    x = x - x.mean(axis=1, keepdims=True)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-3)


def _placement(scale: float, angle: float, t: int) -> np.ndarray:
    """``(2, 3)`` affine map of a ``t x t`` thumbnail scaled by ``scale`` and turned by
    ``angle`` degrees about its centre onto a ``round(t * scale)`` square canvas."""
    big = round(t * scale)
    m = cv2.getRotationMatrix2D((t / 2, t / 2), angle, scale)
    m[:, 2] += (big - t) / 2
    return m


def _resized(x: np.ndarray, scale: float, angle: float) -> np.ndarray:
    """``x`` (``(T, T) float32``) scaled by ``scale`` and, when ``angle`` is not 0, turned by
    ``angle`` degrees (edges reflected, so no black corner enters the correlation)."""
    t = x.shape[0]
    big = round(t * scale)
    if not angle:
        return cv2.resize(x, (big, big))
    return cv2.warpAffine(x, _placement(scale, angle, t), (big, big), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


Geometry = tuple[float, float, tuple[int, int], bool, float]


def geometry(a: np.ndarray, b: np.ndarray, rows: tuple[int, int] | None = None,
             crops_only: bool = False, shapes: tuple[MeanShapes, object, object] | None = None) -> Geometry:
    """Best ``(correlation, scale, (x, y), a_is_larger, angle)`` placing the trimmed mean of
    one ``(N, T, T) float32`` thumbnail stack inside the other's mean scaled by ``scale``
    (:data:`SCALES`) and turned by ``angle`` degrees. ``rows``: only the rows ``r0:r1`` of the
    trimmed mean are matched (the others hold an overlay band); ``(x, y)`` is still where
    the whole trimmed mean goes. ``crops_only``: only :data:`CROP_SCALES`, unturned.
    ``shapes``: a :class:`MeanShapes` and the keys of ``a`` and ``b`` in it (default: one
    for this call alone).

    Scales are searched unturned first, both ways round; then :data:`ANGLES` at the
    :data:`NEAR` scales on either side of the best one, then the best angle
    +-:data:`REFINE` degrees at the best scale and its neighbours (a turned copy is usually
    zoomed to hide its corners, so scale and angle move together; the two-stage search
    costs about a third of a full grid). Turns are tried only the way round the unturned
    best placed the clips (which one lies inside the other): the other way changed no
    verdict of the 7444 candidates of the labelled splits and the 1080p bench source
    (``bench/dedup_accuracy.py``: the same recall, no false pair) and cost 14 % of the
    verification's CPU."""
    t = a.shape[1]
    m = max(1, t // 16)
    core = t - 2 * m
    r0, r1 = rows or (0, core)
    best: Geometry = (-2.0, 1.0, (0, 0), True, 0.0)
    cache, key_a, key_b = shapes if shapes is not None else (MeanShapes(), "a", "b")
    means = cache.per_clip(key_a, "mean", lambda: a.mean(axis=0)), cache.per_clip(key_b, "mean", lambda: b.mean(axis=0))

    sides = ((True, means, key_a), (False, means[::-1], key_b))

    def search(scales, angles, sides=sides) -> None:
        nonlocal best
        found = {}
        for larger, (x, y), key in sides:
            other = key_b if larger else key_a
            placements = tuple((s, angle) for s in scales for angle in angles)
            if rows is None:  # all placements of this side at once (curate.dedup.ncc)
                batch = cache.batch(key, x, placements, _resized, core)
                matches = best_matches(batch, cache.template(other, y, m, batch.side))
            else:  # rows where the part r0:r1 of a whole core fits:
                matches = []
                for s, angle in placements:
                    big = _resized(x, s, angle)
                    r = cv2.matchTemplate(big[r0:len(big) - core + r1], y[m + r0:m + r1, m:t - m],
                                          cv2.TM_CCOEFF_NORMED)
                    _, v, _, loc = cv2.minMaxLoc(r)
                    matches.append((v, loc))
            found.update(((s, angle, larger), match) for (s, angle), match in zip(placements, matches))
        for s in scales:  # the order of the search: the first of equal correlations wins
            for angle in angles:
                for larger, *_ in sides:
                    v, loc = found[(s, angle, larger)]
                    if v > best[0] + TIE:
                        best = (float(v), float(s), tuple(loc), larger, float(angle))

    def near(scale: float, k: int) -> tuple[float, ...]:
        i = SCALES.index(scale)
        return SCALES[max(0, i - k):i + k + 1]

    search(CROP_SCALES if crops_only else SCALES, (0.0,))
    if crops_only:
        return best
    # turns are searched on the side the unturned search placed inside the other only
    side = sides[:1] if best[3] else sides[1:]
    search(near(best[1], NEAR), ANGLES, side)
    if best[4]:
        search(near(best[1], 1), (best[4] - REFINE, best[4] + REFINE), side)
    return best


def _warp(thumbs: np.ndarray, scale: float, loc: tuple[int, int], core: int, angle: float = 0.0) -> np.ndarray:
    x, y = loc
    return np.stack([_resized(f, scale, angle)[y:y + core, x:x + core] for f in thumbs])


def similarities(a: Signature, b: Signature, crops_only: bool = False, shapes=None):
    """``(appearance, xa, xb)``: the ``(Na, Nb)`` correlation matrix of the frames of ``a``
    and ``b`` under their best geometry, and those placed frames, ``(Na, S, S)`` and
    ``(Nb, S, S) float32`` (:func:`motion` takes them on). When one clip carries an overlay
    band (:func:`curate.dedup.overlay.overlay_rows`), the rows outside it correlate better
    and something moves there (over :data:`curate.dedup.overlay.STILL`), all three come
    from those rows (the frames then ``(N, R, S)``). ``crops_only`` and ``shapes``: see
    :func:`geometry`."""
    ta, tb = np.asarray(a.thumbs, np.float32), np.asarray(b.thumbs, np.float32)  # no copy once upsampled
    t = ta.shape[1]
    m = max(1, t // 16)
    def placed(g: Geometry) -> tuple[np.ndarray, np.ndarray]:
        _, scale, loc, a_larger, angle = g
        if a_larger:
            return _warp(ta, scale, loc, t - 2 * m, angle), tb[:, m:t - m, m:t - m]
        return ta[:, m:t - m, m:t - m], _warp(tb, scale, loc, t - 2 * m, angle)

    shapes = shapes if shapes is not None else (MeanShapes(), "a", "b")
    cache, key_a, key_b = shapes
    first = geometry(ta, tb, crops_only=crops_only, shapes=shapes)
    xa, xb = placed(first)
    # the clip left in place: its normalised frames are the same for every candidate
    unit_b = cache.per_clip(key_b, "unit", lambda: _unit(xb)) if first[3] else _unit(xb)
    unit_a = _unit(xa) if first[3] else cache.per_clip(key_a, "unit", lambda: _unit(xa))
    appearance = unit_a @ unit_b.T
    keep = overlay_rows(xa, xb)  # a news bar or subtitles over one of them: compare the other rows
    unmoved = first[1] == 1.0 and first[4] == 0.0 and tuple(first[2]) == (m, m)
    if keep is None and not unmoved:  # a strong bar can pull the placement off: look unmoved too
        keep = overlay_rows(ta[:, m:t - m, m:t - m], tb[:, m:t - m, m:t - m])
    if keep is not None:  # the band also pulled the placement: place the rows outside it again
        kept = np.flatnonzero(keep)
        xa2, xb2 = placed(geometry(ta, tb, rows=(int(kept[0]), int(kept[-1]) + 1), crops_only=crops_only,
                                  shapes=shapes))
        outside = _unit(xa2[:, keep]) @ _unit(xb2[:, keep]).T
        moving = max(float(np.abs(x - x.mean(axis=0)).mean()) for x in (xa2[:, keep], xb2[:, keep]))
        if outside.max() > appearance.max() and moving > overlay.STILL:
            appearance, xa, xb = outside, xa2[:, keep], xb2[:, keep]
    return appearance, xa, xb


def motion(xa: np.ndarray, xb: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(motion, moving_a, moving_b)`` of placed frames (:func:`similarities`): the
    ``(Na, Nb)`` correlation matrix of each frame minus its clip's mean frame, and each
    clip's mean absolute difference from its mean frame (luma levels). Computed only for
    candidates whose appearance could pass (:func:`distance`)."""
    ra, rb = xa - xa.mean(axis=0), xb - xb.mean(axis=0)
    return _unit(ra) @ _unit(rb).T, float(np.abs(ra).mean()), float(np.abs(rb).mean())


def mirrored(sig: Signature) -> Signature:
    """``sig`` of the clip flipped left-right (each ``(N, S, S)`` thumbnail mirrored)."""
    return Signature(np.ascontiguousarray(sig.thumbs[:, :, ::-1]), sig.step_s)


def upsample(sig: Signature) -> Signature:
    """``sig`` with a blended thumbnail between every two neighbours (twice the rate), so that
    alignment can meet a copy shifted by half a frame interval."""
    t = sig.thumbs.astype(np.float32)
    if len(t) < 2:
        return Signature(t, sig.step_s)
    out = np.empty((2 * len(t) - 1,) + t.shape[1:], np.float32)
    out[0::2], out[1::2] = t, 0.5 * (t[:-1] + t[1:])
    return Signature(out, sig.step_s / 2)


SOFT_SIGMA = 0.7  # px (Gaussian sigma) at the thumbnails' size: the second look's softening
SOFT_SHARE = 0.5  # share of ``limit`` the second look must meet
SOFT_MAX = 0.11  # a pair further apart than this at first gets no second look


def softened(sig: Signature) -> Signature:
    """``sig`` with each thumbnail blurred by :data:`SOFT_SIGMA` px (Gaussian)."""
    return Signature(np.stack([cv2.GaussianBlur(t, (0, 0), SOFT_SIGMA) for t in sig.thumbs]), sig.step_s, sig.aspect)


def distance(a: Signature, b: Signature, motion_weight: float = 0.15, motion_level: float = 0.5,
             limit: float | None = None, crops_only: bool = False,
             shapes: tuple[MeanShapes, object, object] | None = None) -> float:
    """Edit distance of two signatures (:func:`plain_distance`, the same arguments), with a
    second look when ``limit`` is given: a pair over ``limit`` but within :data:`SOFT_MAX`
    is compared again on thumbnails softened by :data:`SOFT_SIGMA` px
    (:func:`softened`), and that distance is returned when it is at most
    :data:`SOFT_SHARE` of ``limit``. Fine repeating detail (a night skyline's lit windows,
    the footage's ``cityCC0.mpg``) aliases at 48 px, and a crop or rescale aliases it
    otherwise: a break test's 5 % and 10 % zoom crops of that skyline were 0.087 and 0.093
    from their original (0.021 and 0.026 softened), where the footage's other crops are
    0.007-0.013 apart. Softening every pair instead brought distinct ASL signs under the
    limit (``bench/dedup_accuracy.py`` tuning split: 25 false pairs at 0.7 px), and the
    second look at 0.8 of the limit 4; at 0.6 and 0.5 none (module docstring's bench
    figures)."""
    d = plain_distance(a, b, motion_weight, motion_level, limit, crops_only, shapes)
    if limit is None or d <= limit or d > SOFT_MAX:
        return d
    cache, key_a, key_b = shapes if shapes is not None else (MeanShapes(), "a", "b")
    soft_a = cache.per_clip(("soft", key_a), "softened", lambda: softened(a))  # once per clip and task
    soft_b = cache.per_clip(("soft", key_b), "softened", lambda: softened(b))
    soft = plain_distance(soft_a, soft_b, motion_weight, motion_level, SOFT_SHARE * limit, crops_only,
                          (cache, ("soft", key_a), ("soft", key_b)))
    return soft if soft <= SOFT_SHARE * limit else d


def plain_distance(a: Signature, b: Signature, motion_weight: float = 0.15, motion_level: float = 0.5,
                   limit: float | None = None, crops_only: bool = False,
                   shapes: tuple[MeanShapes, object, object] | None = None) -> float:
    """Edit distance of two signatures (see module docstring): 0 for identical clips, about
    0.02-0.06 for edited copies, more for distinct clips. Raises ValueError when the
    thumbnail sizes differ.

    ``limit``: the caller only asks whether the distance is at most ``limit``; once a
    lower bound of it is over ``limit`` that bound is returned (the alignment mean is at
    most the best frame correlation, and the motion term is never negative), so the
    answer to ``distance <= limit`` is the same and distinct clips cost less.

    ``crops_only``: the geometry search tries crops only (:func:`geometry`), a third of
    its cost; for candidates whose gists are too far apart for any other edit.
    ``shapes``: a :class:`MeanShapes` shared by the pairs of one task and the keys of ``a``
    and ``b`` in it (the same distance, less CPU)."""
    if a.thumbs.shape[1:] != b.thumbs.shape[1:]:
        raise ValueError(f"signature sizes differ: {a.thumbs.shape[1:]} vs {b.thumbs.shape[1:]}")
    shapes = shapes if shapes is not None else (MeanShapes(), "a", "b")
    cache, key_a, key_b = shapes  # each clip's upsampled thumbnails and activity, once per task
    sig_a, sig_b = a, b
    a = cache.per_clip(key_a, "upsampled", lambda: upsample(sig_a))
    b = cache.per_clip(key_b, "upsampled", lambda: upsample(sig_b))
    app, xa, xb = similarities(a, b, crops_only, shapes)
    if limit is not None and 1.0 - float(app.max()) > limit:
        return 1.0 - float(app.max())
    act = (cache.per_clip(key_a, "activity", lambda: activity(a.thumbs)),
           cache.per_clip(key_b, "activity", lambda: activity(b.thumbs)))
    d = 1.0 - max(best_alignment(app, a.step_s, b.step_s, act), best_alignment(app.T, b.step_s, a.step_s, act[::-1]))
    if limit is not None and d > limit:
        return d
    mot, move_a, move_b = motion(xa, xb)
    if max(move_a, move_b) > motion_level:
        d += motion_weight * (1.0 - max(best_alignment(mot, a.step_s, b.step_s, act),
                                        best_alignment(mot.T, b.step_s, a.step_s, act[::-1])))
    return d
