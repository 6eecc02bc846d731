"""The mix-line fit of a window of thumbnails, and what it tells (steps 2-4 of
:mod:`curate.split.transitions`): each frame's mix weight and residual against the two
ends (:func:`fit_blend`), the variance dip against a true mix's (:func:`blend_dip`), how
many changed pixels are mixed at once (:func:`coherence`), and what a gain and offset per
channel of one end leaves of the other (:func:`tone_residual`). Thumbnails are
``(n, h, w, 3) uint8`` (:func:`curate.split.transitions.thumbnail`), levels 0-255, frame
indices 0-based in decode order.
"""

from __future__ import annotations

import numpy as np


def fit_blend(thumbs: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit frames ``a+1 .. b-1`` as mixes of ``x[a]`` and ``x[b]``.

    Returns ``(t, residual)``, each ``(b - a - 1,) float32``: the mix weight of each frame
    (projection on ``B - A``) and its residual RMS divided by ``rms(B - A)``."""
    ends = thumbs[[a, b]].reshape(2, -1).astype(np.float32)
    d = ends[1] - ends[0]
    y = thumbs[a + 1:b].reshape(b - a - 1, -1).astype(np.float32) - ends[0]
    t = y @ d / max(float(d @ d), 1e-6)
    resid = y - t[:, None] * d
    scale = max(float(np.sqrt((d ** 2).mean())), 1e-6)
    return t, np.sqrt((resid ** 2).mean(axis=1)) / scale


def coherence(thumbs: np.ndarray, a: int, b: int, t: np.ndarray, level: float = 20.0) -> float:
    """Share of changed pixels that are mixed as far as their frame (step 4 of
    :mod:`curate.split.transitions`), over frames ``a+1 .. b-1`` with ``0.3 < t_j < 0.7``
    (the frame nearest 0.5 when none is). ``thumbs``: ``(n, h, w, 3) uint8``; ``t``: from :func:`fit_blend`.
    Returns 1.0 when no pixel changes by more than ``level`` (0-255, colour distance)."""
    ends = thumbs[[a, b]].astype(np.float32)
    d = ends[1] - ends[0]
    dd = (d * d).sum(axis=-1)
    changed = dd > level ** 2
    if not changed.any():
        return 1.0
    mid = np.flatnonzero((t > 0.3) & (t < 0.7))
    if len(mid) == 0:
        mid = np.array([int(np.argmin(np.abs(t - 0.5)))])
    x = thumbs[a + 1 + mid].astype(np.float32) - ends[0]
    own = (x * d).sum(axis=-1)[:, changed] / dd[changed]
    return float((np.abs(own - t[mid, None]) < 0.25).mean())


def tone_residual(end_a: np.ndarray, end_b: np.ndarray) -> np.ndarray:
    """``end_b`` minus its prediction by a per-channel gain and offset of ``end_a``, clipped to
    0-255 like the camera clips: the gain and offset are fitted (least squares) on the pixels
    that neither end clips (levels 5-250). ``(h, w, 3) uint8`` twice -> ``(h, w, 3)
    float32`` (0-255 levels). An exposure or gain change, also one that saturates the
    highlights, leaves almost nothing; another picture leaves most of its own contrast (two
    parameters per channel explain only the part linearly correlated with ``end_a``)."""
    a = end_a.reshape(-1, 3).astype(np.float32)
    b = end_b.reshape(-1, 3).astype(np.float32)
    out = np.empty_like(b)
    for c in range(3):
        x, y = a[:, c], b[:, c]
        ok = (y > 4) & (y < 251) & (x > 4) & (x < 251)
        if ok.sum() < 8:
            ok = np.ones_like(ok)
        xo, yo = x[ok], y[ok]
        sx = float(((xo - xo.mean()) ** 2).sum())
        gain = float(((xo - xo.mean()) * (yo - yo.mean())).sum()) / sx if sx > 1e-6 else 0.0
        offset = float(yo.mean()) - gain * float(xo.mean())
        out[:, c] = y - np.clip(gain * x + offset, 0, 255)
    return out.reshape(end_b.shape)


def blend_dip(thumbs: np.ndarray, var: np.ndarray, a: int, b: int, t: np.ndarray) -> float:
    """How far the spatial variance of the frame nearest ``t = 0.5`` falls below the straight
    line between the end variances, as a share of the fall a true mix of the ends would give.

    A mix ``(1 - t) A + t B`` has variance ``(1 - t) var A + t var B - t (1 - t) var(B - A)``
    whatever the contrast of ``A`` and ``B``, so the share is about 1 for a dissolve or a
    fade (also between two pictures of equal contrast) and about 0 or below for a sharp
    frame (camera or object motion, exposure drift). ``thumbs``: ``(n, h, w, 3) uint8``;
    ``var``: :func:`curate.split.transitions.spatial_var`; ``t``: from :func:`fit_blend` for
    the window ``(a, b)``."""
    m = int(np.argmin(np.abs(t - 0.5)))
    tm = float(t[m])
    line = (1 - tm) * float(var[a]) + tm * float(var[b])
    d = thumbs[b].reshape(-1, 3).astype(np.float32) - thumbs[a].reshape(-1, 3).astype(np.float32)
    fall = tm * (1 - tm) * float(d.var(axis=0).mean())
    return (line - float(var[a + 1 + m])) / max(fall, 1e-6)
