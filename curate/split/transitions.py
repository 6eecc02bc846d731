"""Gradual shot transitions: cross-dissolves, fades to or from any flat colour, blank stretches.

PySceneDetect's detectors find hard cuts well; a dissolve changes the picture a little on
every frame and is usually missed, and ``ThresholdDetector`` only knows fades to black.
This module finds gradual transitions as frame *intervals*, which the split stage leaves
out of both neighbouring shots.

Method (a verified form of the twin-comparison idea of Zhang, Kankanhalli & Smoliar,
"Automatic partitioning of full-motion video", Multimedia Systems 1993: compare frames
``L`` apart rather than neighbours, then check that what lies between is an edit). Every
frame is reduced to a 32-pixel-wide BGR thumbnail. For each window length ``L`` and start
``a``, with end frames ``A = x[a]`` and ``B = x[a+L]``:

1. change: ``rms(B - A)`` is at least ``min_change`` (0-255 levels) and at least
   ``min_spread`` of the thumbnail's pixels changed by more than 10 levels beyond what a
   per-channel tone curve of ``A`` predicts (unless one end is flat; :func:`tone_residual`)
   -- the whole picture changes, not an object moving through a fixed frame or the
   exposure, gain or white balance drifting. Where one end is a fade's card
   (:meth:`BlendTest.flat_end`), ``card_spread`` (0.3) is enough: a fade from a grey card
   into a picture mostly of its shade had under half its pixels change, was missed, and
   the card shared that picture's clip;
2. blend: every frame between is close to the straight mix ``A + t_j (B - A)``
   (relative residual at most ``max_residual``), with ``t_j`` non-decreasing, no step of
   ``t`` over 0.5 between neighbours, and at least two frames clearly in between
   (``0.15 < t_j < 0.85``) -- a cut jumps, a flash leaves the line;
3. variance dip: the spatial variance of the frame nearest ``t = 0.5`` falls below the
   straight line between the end variances by at least ``min_dip`` of what a true mix of
   these ends gives, ``t (1 - t) var(B - A)``, and at most ``max_dip`` of it
   (:func:`blend_dip`). Mixing lowers contrast
   (the parabolic variance curve of Alattar 1993 and Meng, Juan & Chang 1995); measuring
   the fall against the mix's own prediction rather than against the end variances keeps
   dissolves between pictures of similar contrast, or similar pictures (one room, one
   framing); camera motion and exposure drift give sharp frames and no fall, the motion
   blur of a shaking camera a fall much larger than a mix's. Unless one end is a fade's
   card (:meth:`BlendTest.flat_end`), the same holds for the frames each divided by its
   mean level: a mix stays a mix of the divided ends, a brightness ramp over moving
   footage leaves only sharp frames;
4. coherence: in a mix every changed pixel is part-way at once. For the frames of the
   clear middle (``0.3 < t_j < 0.7``), each pixel whose colour changes by more than 20
   levels between the ends gets its own mix weight (projection of its change on its
   ``B - A``); at least ``min_coherence`` of them must lie within 0.25 of the frame's
   ``t_j``. An object moving in a fixed frame (a car driving towards the camera, a bus
   crossing) replaces pixels one by one, so they sit near 0 or 1 instead. A limit of
   0.7 found dissolves between shots that both move (a signer's hands, traffic, a
   hand-held camera: 9 of 420 labelled intervals came to 0.60-0.80) but also put gaps
   into single shots (slow tilts over a plain room, white-balance drifts and light
   sweeping across during camera moves: 30 of 1,490 in a break test, against 17 more of
   250 moving dissolves found), so 0.8 stays (``docs/benchmarks.md``, 2026-12-07).

The transition frames of a passing window are those where a straight line fitted to the
clear part of the ramp (``0.15 < t_j < 0.85``) lies in ``(lo, hi)``; overlapping ones
merge into intervals. Blank holds (a fade's black or white hold) are intervals too
(:mod:`curate.split.blanks`).
Intervals are half-open ``(start, end)`` frame ranges, 0-based in decode order.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from curate.split.mixfit import blend_dip, coherence, fit_blend, tone_residual

THUMB_WIDTH = 32
_CHUNK = 2048  # frames converted to float at once when scanning a window length


def thumbnail(frame_bgr: np.ndarray) -> np.ndarray:
    """``(H, W, 3) uint8`` BGR frame -> ``(h, 32, 3) uint8`` thumbnail (area averaging,
    ``h = max(8, round(32 H / W))``)."""
    h, w = frame_bgr.shape[:2]
    th = max(8, round(THUMB_WIDTH * h / w))
    return cv2.resize(frame_bgr, (THUMB_WIDTH, th), interpolation=cv2.INTER_AREA)


def spatial_var(thumbs: np.ndarray) -> np.ndarray:
    """Per-frame spatial variance, mean over channels: ``(n, h, w, 3)`` -> ``(n,) float32``."""
    x = thumbs.reshape(len(thumbs), -1, 3).astype(np.float32)
    return x.var(axis=1).mean(axis=1)


def window_change(thumbs: np.ndarray, length: int) -> np.ndarray:
    """``rms(x[a + length] - x[a])`` for every ``a``: ``(n - length,) float32`` (0-255 levels)."""
    n = len(thumbs)
    out = np.empty(max(n - length, 0), np.float32)
    for s in range(0, n - length, _CHUNK):
        e = min(s + _CHUNK, n - length)
        d = thumbs[s + length:e + length].astype(np.float32) - thumbs[s:e].astype(np.float32)
        out[s:e] = np.sqrt((d.reshape(e - s, -1) ** 2).mean(axis=1))
    return out


class BlendTest:
    """Decides whether a window is a gradual transition (see the module docstring).

    Args:
        min_change: least ``rms(B - A)`` of the window ends, 0-255 levels.
        min_spread: least fraction of thumbnail pixels whose mean absolute change exceeds
            10 levels (``card_spread``, 0.3, where one end is a fade's card).
        max_residual: largest residual of a frame off the mix line, relative to ``rms(B - A)``.
        min_dip, max_dip: least and largest fall of variance at mid-transition, as a share
            of a true mix's (:func:`blend_dip`, about 1 for a mix; 0 = no fall required).
            Motion blur of a shaking camera lowers the variance far more than a mix would.
        lo, hi: mix weights that bound the frames reported as transition frames.
        flat_std: an end with spatial std at most this (0-255 levels) is a flat frame.
        min_coherence: least share of changed pixels mixed as far as the whole frame (step 4).
        max_bend: largest distance of a clear frame's ``t_j`` from the straight line fitted to
            the ramp; a window whose ramp bends (two movements in it) tells no extent.
    """

    def __init__(self, min_change: float = 12.0, min_spread: float = 0.5, max_residual: float = 0.4,
                 min_dip: float = 0.5, max_dip: float = 1.6, lo: float = 0.04, hi: float = 0.96,
                 flat_std: float = 6.0, min_coherence: float = 0.8, max_bend: float = 0.12):
        self.min_coherence, self.max_bend = min_coherence, max_bend
        self.min_change, self.min_spread = min_change, min_spread
        self.card_spread = 0.3  # (a fade from a card into a picture mostly of the card's shade)
        self.max_residual, self.min_dip, self.max_dip = max_residual, min_dip, max_dip
        self.lo, self.hi, self.flat_std = lo, hi, flat_std

    def __call__(self, thumbs: np.ndarray, var: np.ndarray, a: int, b: int) -> tuple[int, int] | None:
        """Transition interval inside window ``(a, b)`` (frame indices), or None."""
        hit = self.check(thumbs, var, a, b)
        return hit[0] if hit is not None and hit[1] else None

    def check(self, thumbs: np.ndarray, var: np.ndarray, a: int, b: int) -> tuple[tuple[int, int], bool] | None:
        """``(interval, coherent)`` when window ``(a, b)`` passes steps 1-3 (``coherent``: step 4
        too), else None. Windows failing only step 4 still tell a transition's extent."""
        # Every test must pass; the mix-line fit runs first as it is cheaper and turns
        # down about 95 % of the windows that reach it, the tone-curve spread second.
        t, resid = fit_blend(thumbs, a, b)
        between = (t > 0.15) & (t < 0.85)
        steps = np.diff(np.concatenate([[0.0], t, [1.0]]))
        if between.sum() < 2 or resid.max() > self.max_residual or steps.min() < -0.1 or steps.max() > 0.5:
            return None  # too few mixed frames, off the mix line, going back, or a jump (a cut)
        card = self.flat_end(thumbs[a], thumbs[b], var[a], var[b])
        if self.spread(thumbs[a], thumbs[b], var[a], var[b]) < (self.card_spread if card else self.min_spread):
            return None
        if not self.min_dip <= blend_dip(thumbs, var, a, b, t) <= self.max_dip:
            return None  # as sharp as its ends (motion, exposure drift) or blurred (a shaking camera)
        if not card and not self._mix_without_gain(thumbs, a, b):
            return None  # a brightness ramp (with the camera or the scene moving), not a mix
        ramp = self._ramp(t[between], np.flatnonzero(between) + a + 1, a, b)
        # below min_coherence: pixels replaced one by one (an object moving), or a noisy window
        return None if ramp is None else (ramp, coherence(thumbs, a, b, t) >= self.min_coherence)

    FLAT_ALWAYS, DARK_CARD = 3.0, 24.0  # std and mean levels of a card (flat_end)

    def flat_end(self, end_a: np.ndarray, end_b: np.ndarray, var_a: float, var_b: float) -> bool:
        """Whether the flatter end of a window (``(h, w, 3) uint8`` thumbnails, their spatial
        variances) is a fade's card, exempt from the gain test: std at most ``FLAT_ALWAYS``,
        or up to ``flat_std`` on black (mean at most ``DARK_CARD``; black divided by its level
        is noise). A lit card passes that test anyway; a dim, plain picture (a road at dusk,
        std 4-6) is no card: a car driving out of it as the exposure rose passed as a fade."""
        end, lo = (end_a, var_a) if var_a <= var_b else (end_b, var_b)
        return lo <= self.FLAT_ALWAYS ** 2 or (lo <= self.flat_std ** 2 and float(end.mean()) <= self.DARK_CARD)

    def _mix_without_gain(self, thumbs: np.ndarray, a: int, b: int) -> bool:
        """Whether frames ``a .. b``, each divided by its own mean level over the pixels that
        no frame of the window clips (all pixels when fewer than a quarter are left), still
        pass the variance dip (step 3). A mix of two pictures stays an exact mix of the two
        divided ends (with other weights); a change of gain or exposure vanishes, so what is left
        of a brightness ramp over moving footage is motion, which gives sharp frames."""
        x = thumbs[a:b + 1].astype(np.float32)
        keep = ((x > 4) & (x < 251)).all(axis=(0, 3))  # pixels no frame clips: gain is exact there
        if keep.mean() >= 0.25:
            x = x[:, keep]
        x *= 128.0 / np.maximum(x.reshape(len(x), -1).mean(axis=1), 1.0).reshape(-1, *[1] * (x.ndim - 1))
        t, _ = fit_blend(x, 0, b - a)
        return self.min_dip <= blend_dip(x, spatial_var(x), 0, b - a, t) <= self.max_dip

    def _ramp(self, t: np.ndarray, frames: np.ndarray, a: int, b: int) -> tuple[int, int] | None:
        """Frames where the straight line fitted to ``t`` over ``frames`` lies in ``(lo, hi)``,
        kept inside ``(a, b)``. Edited dissolves and fades ramp linearly; extrapolating the
        clear middle of the ramp is steadier than thresholding each frame's ``t``, which
        drifts on moving footage."""
        slope, icpt = np.polyfit(frames.astype(np.float64), t.astype(np.float64), 1)
        if slope <= 0 or np.abs(t - (slope * frames + icpt)).max() > self.max_bend:
            return None  # no straight ramp: e.g. a dissolve then an exposure drift
        start = max(a + 1, int(np.floor((self.lo - icpt) / slope)) + 1)
        end = min(b, int(np.ceil((self.hi - icpt) / slope)))
        return (start, end) if end > start else None

    def spread(self, end_a: np.ndarray, end_b: np.ndarray, var_a: float, var_b: float) -> float:
        """Fraction of pixels that change by more than a level between two ``(h, w, 3) uint8``
        thumbnails: 10 (0-255) times the brighter end's mean level over 100, 4-10 (a dim
        picture is a lit one under a gain below 1, and its changes shrink with it: a
        dissolve between dim shots had too few pixels over a fixed 10 and was missed; a
        plain but lit picture keeps 10). Unless one end is flat (a fade), what a gain and offset of the other end
        explains (:func:`tone_residual`, both ways round, the larger share counts; each
        pixel's change is the mean over the channels that neither end clips) is taken out
        first, so an exposure change, a gain ramp that clips, or a white-balance drift does
        not count as a change of picture."""
        level = 10.0 * min(1.0, max(0.4, max(float(end_a.mean()), float(end_b.mean())) / 100.0))
        if min(var_a, var_b) <= self.flat_std ** 2:
            d = end_b.astype(np.float32) - end_a.astype(np.float32)
            return float((np.abs(d).mean(axis=2) > level).mean())
        # both ways: a low-contrast end is "explained" by a gain near 0 of the other; pixels
        # clipped in either end are left out (clipping cannot be undone)
        both = np.stack([end_a, end_b])
        valid = ((both > 4) & (both < 251)).all(axis=0).astype(np.float32)  # (h, w, 3)
        counts = valid.sum(axis=2)
        if (counts > 0).mean() < 0.25:
            valid[:], counts[:] = 1.0, 3.0
        keep = counts > 0
        return max(float(((np.abs(tone_residual(x, y)) * valid).sum(axis=2)[keep] / counts[keep] > level).mean())
                   for x, y in ((end_a, end_b), (end_b, end_a)))


def find_gradual(thumbs: np.ndarray, lengths: list[int], test: BlendTest | None = None) -> list[tuple[int, int]]:
    """Gradual-transition intervals of a thumbnail sequence ``(n, h, w, 3) uint8``.

    ``lengths``: window lengths to scan (frames, each >= 3). Returns merged half-open
    intervals of the windows that pass steps 1-3, sorted, keeping those that hold at least
    one window passing step 4 too (coherence), and the wipes of :mod:`curate.split.wipes`. The same windows are judged as frames
    arrive by :class:`curate.split.gradual.GradualScan`; this is that scan over a whole
    sequence at once."""
    from curate.split.gradual import GradualScan  # the scan itself; it imports this module

    return GradualScan(lengths, test).result(thumbs)


def thumb_luma(thumbs: np.ndarray) -> np.ndarray:
    """``(n, h * w) float32`` BT.601 luma of ``(n, h, w, 3) uint8`` BGR thumbnails (the
    detector is fed BGR), 0-255."""
    return thumbs.reshape(len(thumbs), -1, 3).astype(np.float32) @ np.float32([0.114, 0.587, 0.299])


def merge_intervals(intervals, gap: int = 0) -> list[tuple[int, int]]:
    """Sort half-open intervals and merge those overlapping or less than ``gap`` frames apart."""
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1] + gap:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def resolve_gaps(cuts: list[int], gaps: list[tuple[int, int]], snap: int,
                 join: int = 0, apart: Callable[..., bool] | None = None
                 ) -> tuple[list[int], list[tuple[int, int]]]:
    """Reconcile hard cuts with gaps (frames): a cut inside a gap, or within ``snap`` frames
    of one (a detector reacting to the start or end of a fade), is absorbed by widening the
    gap to it, so no few-frame sliver of a transition is left as a shot. Gaps less than
    ``join`` frames apart (the two legs of a fade around a short black hold; no shot is
    that short) become one. ``apart(first, second, before, after, cuts)``: whether frames
    ``first .. second - 1`` between a cut and a gap, or between two gaps, are a shot of
    their own, judged against the clean frames ``before`` and ``after`` outside them and
    the gaps, ``cuts`` naming which of ``first`` and ``second`` is the cut (fast-cut
    footage, :func:`curate.split.inserts.shot_between`); such a cut is kept and such gaps
    stay apart. Returns the cuts kept and the gaps."""
    sep = apart or (lambda *_: False)
    gaps = [list(g) for g in _join(gaps, join, sep)]
    taken: set[int] = set()
    for g in gaps:  # the cuts inside, then each side's nearest cut first, up to one kept apart
        taken |= {c for c in cuts if g[0] <= c <= g[1]}
        start = g[0]
        for c in sorted((c for c in cuts if start - snap <= c < start and c not in taken), reverse=True):
            if sep(c, g[0], c - 1, g[1], (c,)):
                break
            taken.add(c)
            g[0] = c
        for c in sorted(c for c in cuts if g[1] < c and c not in taken):
            if c > g[1] + snap or sep(g[1], c, g[0] - 1, c, (c,)):
                break
            taken.add(c)
            g[1] = c
    return [c for c in cuts if c not in taken], _join(gaps, join, sep)


def _join(intervals, gap: int, apart: Callable[..., bool]) -> list[tuple[int, int]]:
    """:func:`merge_intervals`, but two intervals with a shot of their own between them
    (``apart(end, start, first start - 1, second end, ())``, see :func:`resolve_gaps`; no
    end is a cut, so no cut is asked to stand out) stay apart."""
    out: list[list[int]] = []
    for s, e in merge_intervals(intervals):  # overlapping ones first: "after" must lie outside every gap
        if out and s <= out[-1][1] + gap and not apart(out[-1][1], s, out[-1][0] - 1, e, ()):
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]
