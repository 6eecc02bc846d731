"""Wipes: one shot replacing another behind a moving edge (left to right, top down, a
diagonal, an iris; FFmpeg's ``xfade`` wipes, a broadcast's).

A dissolve mixes every pixel at once (:mod:`curate.split.transitions`); a wipe never mixes:
each pixel shows the outgoing shot's picture, then, once the edge has passed it, the
incoming one's, and the edge passes neighbouring pixels at neighbouring times. No frame
differs much from the one before (only the band the edge crosses changes), so neither the
content score nor the dissolve test sees it, and a clip would hold both shots (a break
test: every wipe of 0.3-1 s between shots of the footage was missed).

Test of a window ``(a, a + L)`` of 32-pixel thumbnails (``(n, h, w, 3) uint8`` BGR), with
ends ``A = x[a]`` and ``B = x[a + L]``:

1. the whole picture changes: ``rms(B - A)`` at least ``min_change`` and at least
   ``min_spread`` of the pixels changed beyond what a gain and offset of one end explains
   (the dissolve test's spread, so an exposure step is no wipe);
2. at least 70 % of the pixels change by over 20 levels (unrelated shots differ almost
   everywhere; a hand leaving a fixed view of a table changed 30 %, and the exposure with
   it; a flat card crossing a third of a fixed view, 62 % between far-apart frames); a
   cheap screen (:func:`screen`) of steps 2-3 on three frames of every window comes first;
3. each changed pixel (colour distance over 20 levels) gets its weight per frame, its
   projection on its own ``B - A``: at least ``min_binary`` of the pixel-frames sit within
   0.25 of 0 or 1 and on the ``A``-``B`` line (no mix, no other picture);
4. at least ``min_once`` of the pixels cross 0.5 once (no moving object flickering back);
5. the crossing times are spread out: no frame holds more than ``max_at_once`` of them
   (a cut holds all), at least 3 frames hold some;
6. they are smooth in space: at least ``min_smooth`` of the neighbouring pairs of changed
   pixels cross within ``max(1, 0.15 L)`` frames of each other (the edge moves steadily;
   the pixels of fast motion or a whip pan cross at scattered times).

The wipe's frames run from the 5th to the 95th percentile of the crossing frames of the
steady pixels (those within 0.25 of ``A`` or ``B`` in 95 % of the frames: the edge's, not
moving content's; at least half of the changed pixels), widened by a frame each way; the
frames between must themselves pass step 3 (a whip pan between two views blurs them), and
the share of pixels showing ``B`` must not fall back by over 0.05 from a frame to the next.
They go to no clip, like a dissolve's. Thresholds were set
on wipes between the footage's shots (worst: binary 0.83, once 0.95, smooth 0.97) against
windows of moving single shots (``bikes.mp4``'s bikes, ``bigbuckbunny.mp4``: binary at
most 0.72, smooth at most 0.94); ``bench/split_accuracy.py`` scores the same on both splits
with them (no false boundary at its whip pans, flashes or brightness steps).
"""

from __future__ import annotations

import numpy as np

LEVEL = 20.0  # colour distance (0-255 levels) of a changed pixel


def screen(thumbs: np.ndarray, length: int, starts: np.ndarray, min_share: float = 0.7) -> np.ndarray:
    """Steps 1-3 cheaply, for windows ``(a, a + length)``, ``a`` in ``starts`` (``(k,) int``):
    whether at least half the pixels change by over :data:`LEVEL` between the ends and, at
    the frames a quarter, half and three quarters in, at least ``min_share`` of those
    pixels show one end or the other (step 3's rule). Returns ``(k,) bool``; costs about
    a fifth of :class:`WipeTest` per window, which only the windows passing it reach."""
    out = np.zeros(len(starts), bool)
    for s in range(0, len(starts), 256):
        idx = starts[s:s + 256]
        first = thumbs[idx].astype(np.float32)
        d = thumbs[idx + length].astype(np.float32) - first
        dd = (d * d).sum(axis=-1)
        changed = dd > LEVEL ** 2
        share = changed.reshape(len(idx), -1).mean(axis=1)
        hits = np.zeros(len(idx))
        for k in (1, 2, 3):
            x = thumbs[idx + k * length // 4].astype(np.float32) - first
            w = (x * d).sum(axis=-1) / np.maximum(dd, 1.0)
            off = ((x - w[..., None] * d) ** 2).sum(axis=-1) / np.maximum(dd, 1.0)
            ok = (np.abs(w - np.clip(np.round(w), 0, 1)) < 0.25) & (off < 0.35 ** 2) & changed
            hits += ok.reshape(len(idx), -1).sum(axis=1)
        counted = 3 * changed.reshape(len(idx), -1).sum(axis=1)
        out[s:s + 256] = (share >= 0.7) & (hits >= min_share * np.maximum(counted, 1))
    return out


class WipeTest:
    """Decides whether a window is a wipe (module docstring, steps 3-6).

    Args: the thresholds of the module docstring; ``spread``: step 1's tone-curve spread,
    a callable ``(end_a, end_b) -> float`` (the dissolve test's, in :mod:`curate.split.gradual`).
    """

    def __init__(self, min_binary: float = 0.8, min_once: float = 0.94, max_at_once: float = 0.35,
                 min_smooth: float = 0.96, min_spread: float = 0.5):
        self.min_binary, self.min_once, self.max_at_once = min_binary, min_once, max_at_once
        self.min_smooth, self.min_spread = min_smooth, min_spread

    def __call__(self, thumbs: np.ndarray, a: int, b: int, spread) -> tuple[int, int] | None:
        """The wipe's frames ``(start, end)`` (half-open) inside window ``(a, b)``, or None."""
        ends = thumbs[[a, b]].astype(np.float32)
        d = ends[1] - ends[0]
        dd = (d * d).sum(axis=-1)
        changed = dd > LEVEL ** 2
        if changed.mean() < 0.7:
            return None
        x = thumbs[a + 1:b].astype(np.float32) - ends[0]
        dc, ddc = d[changed], dd[changed]
        w = (x[:, changed] * dc).sum(axis=-1) / ddc  # (L - 1, P) each pixel's own weight
        off = ((x[:, changed] - w[..., None] * dc) ** 2).sum(axis=-1) / ddc
        binary = (np.abs(w - np.clip(np.round(w), 0, 1)) < 0.25) & (off < 0.35 ** 2)
        if binary.mean() < self.min_binary:
            return None
        on = w > 0.5
        path = np.vstack([np.zeros((1, on.shape[1]), np.int8), on, np.ones((1, on.shape[1]), np.int8)])
        if ((np.diff(path, axis=0) != 0).sum(axis=0) == 1).mean() < self.min_once:
            return None
        cross = np.argmax(path[1:], axis=0)  # first frame (from a + 1) showing B
        counts = np.bincount(cross, minlength=b - a)
        if counts.max() > self.max_at_once * len(cross) or (counts > 0).sum() < 3:
            return None
        if _smooth(cross, changed, b - a) < self.min_smooth or spread(thumbs[a], thumbs[b]) < self.min_spread:
            return None
        shown = on.mean(axis=1)  # share of the changed pixels showing B, frames a + 1 .. b - 1
        if np.diff(shown).min(initial=0.0) < -0.05:
            return None  # the edge goes back: something moving, not a wipe
        steady = binary.mean(axis=0) >= 0.95  # pixels only ever A or B: the edge's, not motion's
        if steady.sum() < 0.5 * len(cross):
            return None
        lo, hi = np.percentile(cross[steady], [5, 95])
        if binary[int(lo):int(np.ceil(hi)) + 1].mean() < self.min_binary:
            return None  # the frames of the change itself mix or blur (a whip pan): no edge
        return a + int(lo), min(b, a + int(np.ceil(hi)) + 2)


def _smooth(cross: np.ndarray, changed: np.ndarray, length: int) -> float:
    """Share of 4-neighbour pairs of changed pixels whose crossing frames are within
    ``max(1, 0.15 length)`` of each other (0 when there are none)."""
    t = np.full(changed.shape, -1.0)
    t[changed] = cross
    tol = max(1.0, 0.15 * length)
    near = []
    for first, second in ((t[:-1], t[1:]), (t[:, :-1], t[:, 1:])):
        both = (first >= 0) & (second >= 0)
        near.append(np.abs(first - second)[both] <= tol)
    pairs = np.concatenate(near)
    return float(pairs.mean()) if len(pairs) else 0.0
