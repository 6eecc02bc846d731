"""Pictures and a skip mark for the on-screen text tests (PP-OCR models of the rapidocr wheel)."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

needs_ocr = pytest.mark.skipif(importlib.util.find_spec("rapidocr_onnxruntime") is None,
                               reason="rapidocr-onnxruntime not installed (pip install --no-deps rapidocr-onnxruntime)")


def smooth(seed: int, h: int = 224, w: int = 398) -> np.ndarray:
    """A textless ``(h, w, 3) uint8`` picture: smoothed noise, levels 20..220."""
    rng = np.random.default_rng(seed)
    f = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 12)
    return ((f - f.min()) / (f.max() - f.min()) * 200 + 20).astype(np.uint8)
