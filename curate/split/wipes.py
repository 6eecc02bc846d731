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

7. judged on each run of overlapping hits, with the frames just outside it as its ends
   (in :class:`curate.split.gradual.GradualScan`, once twice the longest window of
   frames after the run is in, or at the source's end): the picture it leaves does not
   come back, at its end or within that many frames, nor the one it brings stand there
   before it (:func:`comes_back`: a bus, a person close to the lens, a curtain or a
   panel passing in front of a fixed camera covers the view and uncovers it), and its
   ends are not one view under other light (:func:`same_view`, and the relight rule of
   :func:`curate.split.spikes.relit`: a light or a shadow sweeping across).

The wipe's frames run from the 5th to the 95th percentile of the crossing frames of the
steady pixels (those within 0.25 of ``A`` or ``B`` in 95 % of the frames: the edge's, not
moving content's; at least half of the changed pixels), widened by a frame each way; the
frames between must themselves pass step 3 (a whip pan between two views blurs them), and
the share of pixels showing ``B`` must not fall back by over 0.05 from a frame to the next.
They go to no clip, like a dissolve's. Thresholds were set
on wipes between the footage's shots (worst: binary 0.83, once 0.95, smooth 0.97) against
windows of moving single shots (``bikes.mp4``'s bikes, ``bigbuckbunny.mp4``: binary at
most 0.72, smooth at most 0.94); ``bench/split_accuracy.py`` scores the same on both splits
with them (no false boundary at its whip pans, flashes or brightness steps). Step 7 came
from a break test of fixed views with things passing or light sweeping across: 50 of 105
such clips had a false gap without it, 15 with it (a textured vehicle side covering 75 %
or more of the view until the clip ends, a light patch or shadow over a plain road).
Same-camera wipes (two times of one fixed view) are left to the cut rules, like jump cuts.
"""

from __future__ import annotations

import numpy as np

from curate.split.transitions import thumb_luma

LEVEL = 20.0  # colour distance (0-255 levels) of a changed pixel


def screen(luma: np.ndarray, length: int, starts: np.ndarray, min_share: float = 0.7) -> np.ndarray:
    """Steps 2-3 cheaply, on luma, for windows ``(a, a + length)``, ``a`` in ``starts``
    (``(k,) int``): whether at least 60 % of the pixels change by over 10 grey levels
    between the ends (a colour change of 20 levels moves luma by about 11) and, at the
    frames a quarter, half and three quarters in, at least ``min_share`` of those pixels
    sit within 0.25 of one end's value or the other's, and one of those frames shows both
    (each in at least 10 % of them: a cut or an exposure step inside the window shows one
    at a time). ``luma``: ``(n, p) float32`` (:func:`curate.split.transitions.thumb_luma`).
    Returns ``(k,) bool``; only windows passing it reach :class:`WipeTest`."""
    out = np.zeros(len(starts), bool)
    for s in range(0, len(starts), 512):
        idx = starts[s:s + 512]
        first = luma[idx]
        d = luma[idx + length] - first
        changed = np.abs(d) > 10.0
        counted = changed.sum(axis=1)
        live = counted >= 0.6 * luma.shape[1]
        if not live.any():
            continue
        idx, first, d, changed, counted = idx[live], first[live], d[live], changed[live], counted[live]
        safe = np.where(changed, d, 1.0)
        hits, split = np.zeros(len(idx)), np.zeros(len(idx), bool)
        for k in (1, 2, 3):
            w = (luma[idx + k * length // 4] - first) / safe
            at_b = ((np.abs(w - 1) < 0.25) & changed).sum(axis=1)
            at_a = ((np.abs(w) < 0.25) & changed).sum(axis=1)
            hits += at_a + at_b
            split |= np.minimum(at_a, at_b) >= 0.1 * counted  # both shots on screen: not a cut or a step
        out[s:s + 512][live] = (hits >= min_share * 3 * counted) & split
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


def comes_back(thumbs: np.ndarray, a: int, b: int, horizon: int, ratio: float = 0.5) -> bool:
    """Whether the picture a wipe-like window ``(a, b)`` left comes back: frame ``b`` itself
    (its difference from ``a`` under ``ratio`` of the largest inside), a frame within
    ``horizon`` frames after ``b`` close to frame ``a`` (mean absolute difference under
    ``ratio`` of ``a``'s to ``b``'s), or one within ``horizon`` before ``a`` close to frame
    ``b``. Something passing in front of a fixed camera (a bus, a person near the lens, a
    panel sliding in and out, a curtain closed and opened) covers the view and uncovers it
    again, as a wipe never does (a break test: each was a false gap of 5-51 frames)."""
    ends = thumbs[[a, b]].astype(np.float32)
    jump = float(np.abs(ends[1] - ends[0]).mean())
    inside = thumbs[a + 1:b].astype(np.float32)
    if len(inside) and jump < ratio * float(np.abs(inside - ends[0]).mean(axis=(1, 2, 3)).max()):
        return True  # back already at the window's end: something passed across the whole run
    after = thumbs[b + 1:b + 1 + horizon].astype(np.float32)
    before = thumbs[max(0, a - horizon):a].astype(np.float32)
    near_a = np.abs(after - ends[0]).mean(axis=(1, 2, 3)) < ratio * jump if len(after) else np.zeros(0, bool)
    near_b = np.abs(before - ends[1]).mean(axis=(1, 2, 3)) < ratio * jump if len(before) else np.zeros(0, bool)
    return bool(near_a.any() or near_b.any())


def same_view(end_a: np.ndarray, end_b: np.ndarray, level: float = 0.6) -> bool:
    """Whether two ``(h, w, 3) uint8`` thumbnails show one view under other light: the
    correlation of their luma, each made zero-mean and unit-variance, is at least
    ``level`` (a gain, an offset or a tint leaves it near 1; two shots of other places
    give 0-0.3). A light, a shadow or a tint sweeping across one view switches each pixel
    once at smoothly moving times, as a wipe does (a break test: 20 of 24 were gaps)."""
    la, lb = (thumb_luma(x[None])[0] for x in (end_a, end_b))
    la, lb = la - la.mean(), lb - lb.mean()
    denom = float(np.sqrt((la * la).sum() * (lb * lb).sum()))
    return denom > 0 and float((la * lb).sum()) / denom >= level
