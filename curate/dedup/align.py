"""Time alignment of two signatures: speed and offset maps, activity, and motion over the overlap.

Step 3 of :mod:`curate.dedup.verify`: frame ``i`` of one clip meets the frame of the
other nearest ``speed * t_i + offset`` (seconds), for speeds :data:`SPEEDS` and every
offset (half a frame interval apart) leaving at least :data:`MIN_OVERLAP` of the shorter
clip overlapping, and that share of its activity (:func:`activity`). The best mean of a
frame-similarity matrix over those maps (:func:`best_alignment`) scores appearance and
motion.

Motion over the overlap (:func:`overlap_motion`): the motion term correlates what moves,
each frame minus its clip's mean frame. A shifted or trimmed copy covers another stretch
of time than its source, so their mean frames differ by what moved in the stretches one
of them lacks, and so do all their residuals, most where little moves: a signer's hand
raised in the 0.3 s a copy starts later left 0.4-0.6 correlation between the copy and its
source (ASL clips of ``bench/dedup_pairs.py``). The motion term therefore also takes each
clip's mean over the frames the best appearance map at the source's speed pairs (a trim or
a shift plays at it), and counts the larger of the two correlations. Maps of every speed
found the same copies but brought the footage run's ASL ``yes`` and ``no`` (one signer,
one room, 0.061 apart before, the closest distinct pair there) to 0.058 through a x1.2
map, and paired them. On ``bench/dedup_long.py`` (3.5-8 s windows: shifted, re-timed, trimmed,
sped-up copies) recall rose from 0.642 to 0.708 (tuning) and from 0.748 to 0.837 (test),
on ``bench/dedup_accuracy.py`` from 0.752 to 0.755 and 0.768 to 0.775, precision 1.000
on all four; the footage run's closest distinct pairs (10 s windows of the indoor camera,
the ASL ``yes`` and ``no``) stay where they were, 0.061-0.077, and its shard is unchanged.
"""

from __future__ import annotations

import numpy as np

from curate.dedup.signature import Signature

SPEEDS = (0.8, 0.9, 1.0, 1.1, 1.25)
MIN_OVERLAP = 0.6
ACTIVE_LEVEL = 3.0  # luma levels from the clip's median thumbnail: a frame where something moves

Map = tuple[np.ndarray, np.ndarray]  # (frames of one clip, the frames of the other they meet), int arrays


def activity(thumbs: np.ndarray) -> np.ndarray:
    """``(N,) float64`` how much each of ``(N, S, S)`` thumbnails differs from its clip's
    median thumbnail (mean absolute luma difference; 0 under :data:`ACTIVE_LEVEL`): where
    something crosses a fixed camera's view, not its empty stretches."""
    t = thumbs.astype(np.float32)
    act = np.abs(t - np.median(t, axis=0)).mean(axis=(1, 2)).astype(np.float64)
    return np.where(act > ACTIVE_LEVEL, act, 0.0)


def best_map(sim: np.ndarray, step_a: float, step_b: float,
             active: tuple[np.ndarray, np.ndarray] | None = None,
             speeds: tuple[float, ...] = SPEEDS) -> tuple[float, Map | None]:
    """Largest mean of ``sim[i, j(i)]`` over time maps ``t_b = speed * t_a + offset`` (see
    module docstring) and that map, ``(i, j)`` int arrays of the frames it pairs; ``sim``
    is ``(Na, Nb)``, steps in seconds. ``(-1.0, None)`` when nothing overlaps.

    ``active``: each clip's :func:`activity` (``(Na,)``, ``(Nb,)``); a map must then also
    cover at least ``MIN_OVERLAP`` of the shorter clip's activity, so two windows of one
    fixed camera whose empty-room stretches align, each with its own passer-by outside
    them, are not an edited copy (a trimmed or shifted copy covers the moving part it kept)."""
    n, m = sim.shape
    ta = np.arange(n) * step_a
    offsets = np.arange(-n * step_a, m * step_b, step_b / 2)
    rows = np.arange(n)
    if active is not None:
        cum_a, cum_b = (np.concatenate([[0.0], np.cumsum(x)]) for x in active)
        a_shorter = n * step_a <= m * step_b
        moving = (cum_a if a_shorter else cum_b)[-1]
    best, where = -1.0, None
    for speed in speeds:
        need = max(2, MIN_OVERLAP * min(n, m / speed)) if min(n, m) > 1 else 1
        j = np.rint((speed * ta[None, :] + offsets[:, None]) / step_b).astype(int)  # (O, Na)
        ok = (j >= 0) & (j < m)
        count = ok.sum(axis=1)
        total = np.where(ok, sim[rows[None, :], np.clip(j, 0, m - 1)], 0.0).sum(axis=1)
        good = count >= need
        if active is not None and moving > 0:
            lo, hi = ok.argmax(axis=1), n - 1 - ok[:, ::-1].argmax(axis=1)  # the rows a map covers
            if a_shorter:
                covered = cum_a[hi + 1] - cum_a[lo]
            else:
                o = np.arange(len(j))
                jlo, jhi = np.clip(j[o, lo], 0, m - 1), np.clip(j[o, hi], 0, m - 1)
                covered = cum_b[jhi + 1] - cum_b[jlo]
            good &= covered >= MIN_OVERLAP * moving
        if good.any():
            means = total[good] / count[good]
            k = int(means.argmax())
            if float(means[k]) > best:
                o = np.flatnonzero(good)[k]
                best, where = float(means[k]), (rows[ok[o]], j[o][ok[o]])
    return best, where


def best_alignment(sim: np.ndarray, step_a: float, step_b: float,
                   active: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """The mean of :func:`best_map` alone: -1 when nothing overlaps."""
    return best_map(sim, step_a, step_b, active)[0]


def overlap_motion(xa: np.ndarray, xb: np.ndarray, pairs: Map) -> float:
    """Mean correlation of what moves in the frames ``pairs`` meets (``(i, j)`` indices into
    ``(Na, ...)`` and ``(Nb, ...)`` float32 placed frames ``xa`` and ``xb``), each frame
    minus its clip's mean over the frames the map covers (``i.min()..i.max()``, and so for
    ``j``) rather than over the whole clip (module docstring). In -1..1."""
    i, j = pairs
    ra = (xa[i] - xa[i.min():i.max() + 1].mean(axis=0)).reshape(len(i), -1)
    rb = (xb[j] - xb[j.min():j.max() + 1].mean(axis=0)).reshape(len(j), -1)
    ra = ra - ra.mean(axis=1, keepdims=True)
    rb = rb - rb.mean(axis=1, keepdims=True)
    ra /= np.linalg.norm(ra, axis=1, keepdims=True) + 1e-3
    rb /= np.linalg.norm(rb, axis=1, keepdims=True) + 1e-3
    return float((ra * rb).sum(axis=1).mean())


def upsample(sig: Signature) -> Signature:
    """``sig`` with a blended thumbnail between every two neighbours (twice the rate), so that
    alignment can meet a copy shifted by half a frame interval."""
    t = sig.thumbs.astype(np.float32)
    if len(t) < 2:
        return Signature(t, sig.step_s)
    out = np.empty((2 * len(t) - 1,) + t.shape[1:], np.float32)
    out[0::2], out[1::2] = t, 0.5 * (t[:-1] + t[1:])
    return Signature(out, sig.step_s / 2)
