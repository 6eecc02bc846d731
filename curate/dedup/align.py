"""Step 3 of :mod:`curate.dedup.verify`: the best alignment over time of two clips' frame
similarities (time shifts, trims and speed changes), and each clip's activity, which
an alignment must cover so that two windows of one fixed camera whose empty stretches
align are not taken for an edited copy.
"""

from __future__ import annotations

import numpy as np

SPEEDS = (0.8, 0.9, 1.0, 1.1, 1.25)
MIN_OVERLAP = 0.6
ACTIVE_LEVEL = 3.0  # luma levels from the clip's median thumbnail: a frame where something moves


def activity(thumbs: np.ndarray) -> np.ndarray:
    """``(N,) float64`` how much each of ``(N, S, S)`` thumbnails differs from its clip's
    median thumbnail (mean absolute luma difference; 0 under :data:`ACTIVE_LEVEL`): where
    something crosses a fixed camera's view, not its empty stretches."""
    t = thumbs.astype(np.float32)
    act = np.abs(t - np.median(t, axis=0)).mean(axis=(1, 2)).astype(np.float64)
    return np.where(act > ACTIVE_LEVEL, act, 0.0)


def best_alignment(sim: np.ndarray, step_a: float, step_b: float,
                   active: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """Largest mean of ``sim[i, j(i)]`` over time maps ``t_b = speed * t_a + offset`` (see
    module docstring); ``sim`` is ``(Na, Nb)``, steps in seconds. -1 when nothing overlaps.

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
    best = -1.0
    for speed in SPEEDS:
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
            best = max(best, float((total[good] / count[good]).max()))
    return best
