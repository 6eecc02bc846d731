"""What a camera model leaves unexplained between two luma frames: its flow and the change mask.

:func:`curate.camfit.fit_camera` chooses the camera model; :func:`curate.flow.global_motion`
then measures subject motion against it: the dense flow less :func:`model_flow` (the
displacement the model itself gives each pixel), restricted to the pixels :func:`changed`
finds that the warped previous frame does not predict (a frame difference above
``grey`` levels, less the median difference so an exposure change is no change).
Coordinates are centred on the frame, as in :mod:`curate.camfit`.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from curate.camfit import _IDENTITY, _warp


@functools.lru_cache(maxsize=16)
def centred_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Centred pixel coordinates ``(xs, ys)`` of a ``(h, w)`` frame, both ``(h, w) float32``,
    read-only (cached per size)."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs -= (w - 1) / 2.0
    ys -= (h - 1) / 2.0
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def model_flow(matrix: np.ndarray, shape: tuple[int, int], margin: float = 0.0) -> np.ndarray:
    """Displacement field of a centred ``(2, 3)`` similarity over a frame of ``shape``:
    ``(H, W, 2) float32``; with ``margin`` > 0 only inside a border of that fraction of each
    side, ``(H - 2 * int(H * margin), W - 2 * int(W * margin), 2)``."""
    h, w = shape
    my, mx = int(h * margin), int(w * margin)
    xs, ys = (g[my:h - my, mx:w - mx] for g in centred_grid(h, w))
    out = np.empty(xs.shape + (2,), np.float32)
    out[..., 0] = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2] - xs
    out[..., 1] = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2] - ys
    return out


def changed(prev: np.ndarray, cur: np.ndarray, matrix: np.ndarray, grey: float = 6.0,
            grow: int = 7) -> np.ndarray:
    """Pixels of ``cur`` that ``prev`` warped by the camera model does not predict: ``(H, W) bool``.

    A pixel changed when its absolute difference, less the median difference (an exposure
    change), exceeds ``grey`` levels; the mask is dilated by a ``grow`` x ``grow`` square
    so the flat inside of a moving object joins its edges.
    """
    a, b = cv2.GaussianBlur(prev, (3, 3), 0), cv2.GaussianBlur(cur, (3, 3), 0)
    if np.array_equal(matrix, _IDENTITY):  # whole grey levels: integer median and bounds
        diff = b.astype(np.int16) - a
        med = _int_median(diff)
        mask = (diff > math.floor(med + grey)) | (diff < math.ceil(med - grey))
    else:
        diff = b.astype(np.float32) - _warp(a.astype(np.float32), matrix)
        mask = np.abs(diff - np.median(diff)) > grey
    return cv2.dilate(mask.view(np.uint8), _square(grow)).view(bool)  # 0/1 bytes


@functools.lru_cache(maxsize=8)
def _square(size: int) -> np.ndarray:
    """A ``size`` x ``size`` structuring element of ones, ``uint8``."""
    return np.ones((size, size), np.uint8)


def _int_median(values: np.ndarray) -> float:
    """``np.median`` of grey-level differences ``(H, W) int16`` in -255..255, exactly: each middle
    rank's value by bisection on counts, first trying 0 (a still picture's usual median)."""
    n = values.size
    r_lo = _kth_int(values, (n - 1) // 2)
    r_hi = r_lo if n % 2 or np.count_nonzero(values <= r_lo) >= n // 2 + 1 else _kth_int(values, n // 2)
    return (r_lo + r_hi) / 2


def _kth_int(values: np.ndarray, k: int) -> int:
    """The ``k``-th smallest (from 0) of integers in -255..255: the least ``v`` with more than
    ``k`` values ``<= v``."""
    lo, hi, mid = -256, 255, 0  # count(<= lo) <= k < count(<= hi)
    while hi - lo > 1:
        if np.count_nonzero(values <= mid) > k:
            hi = mid
        else:
            lo = mid
        mid = -1 if hi == 0 else 1 if lo == 0 else (lo + hi) // 2
    return hi
