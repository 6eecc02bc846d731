"""PySceneDetect's per-frame content score with the same values and a fifth of the CPU.

``ContentDetector`` (and ``AdaptiveDetector``, which builds on it) compares the HSV
channels of consecutive frames with ``scenedetect.detectors.content_detector._mean_pixel_distance``:
each ``(H, W) uint8`` plane is cast to int32 twice, subtracted, made absolute and summed
in NumPy, three times a frame. On the one-decode pass of a 1080p source that is about a
third of the shot detector's time. :func:`mean_pixel_distance` gives the identical
float (OpenCV's saturating ``absdiff`` of two uint8 planes is the exact absolute
difference, and ``sumElems`` sums those integers exactly in float64, far below 2**53)
in one pass without temporaries; :func:`install` puts it in place of the module's own
function, which the detectors look up on every call. Tests compare both on random and
real frames.

``ThresholdDetector`` (fades to black) takes ``numpy.mean`` of every ``(H, W, 3) uint8``
frame, about 90 us at 256 px, unless its stats manager already holds the frame's
metric (PySceneDetect's cache for detectors re-run over one video). :class:`FrameMean`
is such a cache of one frame: it holds the same mean from OpenCV's exact per-channel
sums (5 us), which the detector then reads instead.
"""

from __future__ import annotations

import cv2
import numpy as np
from scenedetect.detectors import content_detector

_original = content_detector._mean_pixel_distance


def mean_pixel_distance(left: np.ndarray, right: np.ndarray) -> float:
    """Mean absolute difference of two ``(H, W) uint8`` planes (0-255 levels), exactly as
    PySceneDetect's ``_mean_pixel_distance``. Other dtypes or shapes go to the original."""
    if left.dtype != np.uint8 or right.dtype != np.uint8 or left.ndim != 2 or left.shape != right.shape:
        return _original(left, right)
    return cv2.sumElems(cv2.absdiff(left, right))[0] / float(left.shape[0] * left.shape[1])


def install() -> None:
    """Make PySceneDetect's content detectors use :func:`mean_pixel_distance` (idempotent)."""
    content_detector._mean_pixel_distance = mean_pixel_distance


class FrameMean:
    """A stand-in stats manager for ``ThresholdDetector`` (module docstring): set it as the
    detector's ``stats_manager`` and call :meth:`put` with each frame before the
    detector's ``process_frame``; the detector reads the frame's mean from here.

    The value equals ``numpy.mean(frame)`` exactly for ``uint8`` frames: NumPy sums
    integers in float64 (exact below 2**53) and divides by the count; OpenCV's per-channel
    sums are exact integers too. Other dtypes use ``numpy.mean`` itself."""

    def __init__(self):
        self.value = 0.0

    def put(self, frame: np.ndarray) -> None:
        """Hold the mean of ``frame`` (any shape; ``(H, W, 3) uint8`` is the fast case)."""
        if frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] <= 4:
            self.value = sum(cv2.sumElems(frame)[:frame.shape[2]]) / float(frame.size)
        else:
            self.value = float(np.mean(frame))

    def metrics_exist(self, timecode, keys) -> bool:
        """Always: the frame's mean is held (the detector's only metric)."""
        return True

    def get_metrics(self, timecode, keys) -> list[float]:
        """``[mean]`` of the frame last given to :meth:`put`."""
        return [self.value]

    def set_metrics(self, timecode, metrics) -> None:
        """Nothing to keep: one frame at a time."""
