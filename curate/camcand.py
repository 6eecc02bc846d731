"""Candidate camera models between two luma frames, for :func:`curate.camfit.fit_camera`.

Step 1 of that fit: the fixed camera (identity); a similarity model (translation, scale,
rotation) fitted by RANSAC (Fischler and Bolles, CACM 1981;
``cv2.estimateAffinePartial2D``) to Shi-Tomasi corners (Shi and Tomasi, "Good Features
to Track", CVPR 1994) found cell by cell and tracked by pyramidal Lucas-Kanade with a
forward-backward check (Kalal et al., ICPR 2010); one fitted by RANSAC to the dense flow
(DIS, :mod:`curate.flow`) on a grid; one fitted to the flow the previous one leaves
out (a second motion); and, where the corners' model keeps the frame still (a subject the
camera follows holds most of the corners, or a fixed view), one fitted to the corners it
leaves out: the flow blurs across a large subject's border, the tracked corners do not.
Models are ``(2, 3) float64`` similarities in coordinates centred on the frame; pixel
thresholds are at the motion sample's size (short side 128).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import cv2
import numpy as np

from curate.camrules import distinct

if TYPE_CHECKING:
    from curate.camfit import FitParams

_IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
_LK = {"winSize": (11, 11), "maxLevel": 2,
       "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}


def grid_corners(gray: np.ndarray, grid: int, per_cell: int) -> np.ndarray:
    """Shi-Tomasi corners of ``(H, W) uint8`` found cell by cell: ``(N, 2) float32`` (x, y)."""
    cells, origins = _cells(*gray.shape, grid)
    found = [cv2.goodFeaturesToTrack(gray[c], per_cell, 0.01, 3, blockSize=5) for c in cells]
    counts = [0 if p is None else len(p) for p in found]
    if not any(counts):
        return np.zeros((0, 2), np.float32)
    pts = np.concatenate([p for p in found if p is not None]).reshape(-1, 2)
    pts += origins.repeat(counts, axis=0)
    return pts


@functools.lru_cache(maxsize=16)
def _cells(h: int, w: int, grid: int) -> tuple[list[tuple[slice, slice]], np.ndarray]:
    """The ``grid`` x ``grid`` cells of a ``(h, w)`` frame, row by row: their index slices and
    their top-left corners ``(grid * grid, 2) float32`` (x, y)."""
    bounds = [(h * i // grid, h * (i + 1) // grid, w * j // grid, w * (j + 1) // grid)
              for i in range(grid) for j in range(grid)]
    origins = np.array([(x0, y0) for y0, _, x0, _ in bounds], np.float32)
    origins.flags.writeable = False
    return [(slice(y0, y1), slice(x0, x1)) for y0, y1, x0, x1 in bounds], origins


def track(prev: np.ndarray, cur: np.ndarray, pts: np.ndarray, fb_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Lucas-Kanade tracks of ``pts`` from ``prev`` to ``cur`` that pass the forward-backward check.

    Returns ``(p0, p1)``, both ``(K, 2) float32``.
    """
    if len(pts) == 0:
        return pts, pts
    p1, st, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts.reshape(-1, 1, 2), None, **_LK)
    found = st.ravel() == 1  # each point is tracked on its own: lost ones need no way back
    pts, p1 = pts[found], p1[found]
    if len(pts) == 0:
        return pts, pts
    back, st_b, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **_LK)
    ok = (st_b.ravel() == 1) & (vector_length(back.reshape(-1, 2) - pts) < fb_px)
    return pts[ok], p1.reshape(-1, 2)[ok]


def ransac_similarity(c0: np.ndarray, c1: np.ndarray, px: float) -> np.ndarray | None:
    """Similarity ``(2, 3) float64`` mapping ``c0`` to ``c1`` (``(K, 2)``) by RANSAC; None if it fails."""
    if len(c0) < 3:
        return None
    matrix, _ = cv2.estimateAffinePartial2D(c0, c1, method=cv2.RANSAC, ransacReprojThreshold=px,
                                            maxIters=500, confidence=0.99, refineIters=10)
    return None if matrix is None else np.asarray(matrix, np.float64)


def vector_length(vec: np.ndarray) -> np.ndarray:
    """Euclidean length over the last axis (size 2) of ``vec``, in its dtype: the same values
    as ``np.linalg.norm(vec, axis=-1)``, several times faster (no reduction over a 2-long axis)."""
    sq = vec * vec
    out = sq[..., 0] + sq[..., 1]
    return np.sqrt(out, out=out)


@functools.lru_cache(maxsize=16)
def _sample_grid(h: int, w: int, step: int) -> np.ndarray:
    """Centred ``(x, y)`` of every ``step``-th pixel from ``step // 2``, row by row: ``(K, 2) float32``."""
    ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]
    c0 = np.stack([xs.ravel() - (w - 1) / 2.0, ys.ravel() - (h - 1) / 2.0], axis=1).astype(np.float32)
    c0.flags.writeable = False
    return c0


def _flow_samples(flow: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    h, w = flow.shape[:2]
    c0 = _sample_grid(h, w, step)
    return c0, c0 + flow[step // 2:h:step, step // 2:w:step].reshape(-1, 2)


def _left_out(c0: np.ndarray, c1: np.ndarray, model: np.ndarray, px: float, least: float) -> np.ndarray | None:
    """A RANSAC similarity (:func:`ransac_similarity`) on the pairs ``c0 -> c1`` (``(K, 2)``)
    that ``model`` maps more than ``2 * px`` pixels off, when at least ``least`` are; else None."""
    rest = vector_length(c0 @ model[:, :2].T + model[:, 2] - c1) > 2 * px
    return ransac_similarity(c0[rest], c1[rest], px) if rest.sum() >= least else None


def candidates(prev: np.ndarray, cur: np.ndarray, flow: np.ndarray, params: FitParams) -> tuple[list[np.ndarray], int]:
    """The fixed camera, a RANSAC similarity on the flow field and, when at least
    ``second_share`` of the flow is left out by it, one on that rest; one on tracked corners
    and, when it moves no frame corner more than ``ransac_px`` and leaves out at least
    ``min_points`` corners, one on those.

    Returns the centred ``(2, 3)`` models (fixed camera first) and the tracked point count.
    """
    centre = np.array([(prev.shape[1] - 1) / 2.0, (prev.shape[0] - 1) / 2.0], np.float32)
    p0, p1 = track(prev, cur, grid_corners(prev, params.grid, params.per_cell), params.fb_px)
    f0, f1 = _flow_samples(flow, params.flow_step)
    first = ransac_similarity(f0, f1, params.ransac_px)
    found = [first]
    if first is not None:  # a second motion: RANSAC again on what the first model leaves out
        found.append(_left_out(f0, f1, first, params.ransac_px, params.second_share * len(f0)))
    if len(p0) >= params.min_points:
        c0, c1 = p0 - centre, p1 - centre
        corners = ransac_similarity(c0, c1, params.ransac_px)
        found.append(corners)
        if corners is not None and not distinct(corners, _IDENTITY, prev.shape, params.ransac_px):
            # most corners keep still (a subject the camera follows, or a fixed view): a second
            # motion among those left out, the background sliding past or an object
            found.append(_left_out(c0, c1, corners, params.ransac_px, params.min_points))
    return [_IDENTITY] + [m for m in found if m is not None], len(p0)
