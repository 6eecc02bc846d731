"""On-screen text: the share of the picture covered by text boxes (subtitles, watermarks, slides).

Text is found with the PP-OCRv4 text detection model (DB, Liao et al., "Real-time Scene
Text Detection with Differentiable Binarization", AAAI 2020; PaddleOCR), the ONNX file
that the ``rapidocr-onnxruntime`` wheel ships (``models/ch_PP-OCRv4_det_infer.onnx``),
run here with ONNX Runtime directly: install the wheel with ``pip install --no-deps
rapidocr-onnxruntime`` (its ``opencv-python`` requirement would replace the headless
OpenCV this project uses). Post-processing follows DB's: the probability map over 0.3,
connected regions whose mean probability is at least 0.5, each region's box grown by
``area * 1.6 / perimeter`` (DB's unclip ratio); the score is the area of the union of
the boxes over the frame area.
"""

from __future__ import annotations

import cv2
import numpy as np

from curate.quality.weights import require, session

PACKAGE, RELPATH = "rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx"
HINT = "install it with: pip install --no-deps rapidocr-onnxruntime (or set text_model to a .onnx path)"
THRESH, BOX_THRESH, UNCLIP = 0.3, 0.5, 1.6


class TextDetector:
    """PP-OCR text detection over batches of frames (model loaded once, in the constructor).

    ``model``: a ``.onnx`` path or None for the packaged file; ``side``: the short side
    (pixels, rounded to a multiple of 32) frames are resized to. Raises
    :class:`curate.quality.weights.WeightsMissing` when the model is not found.
    """

    def __init__(self, model: str | None = None, side: int = 480, threads: int = 1):
        self.path = require(model, PACKAGE, RELPATH, HINT)
        self.side = max(32, side // 32 * 32)
        self.session = session(self.path, threads)
        self.input = self.session.get_inputs()[0].name

    def _prepare(self, frames: np.ndarray) -> np.ndarray:
        h, w = frames.shape[1:3]
        s = self.side / min(h, w)
        size = (max(32, round(w * s / 32) * 32), max(32, round(h * s / 32) * 32))
        batch = np.stack([cv2.resize(f[..., ::-1], size, interpolation=cv2.INTER_LINEAR) for f in frames])
        return ((batch.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(0, 3, 1, 2)

    def area(self, frames: np.ndarray) -> np.ndarray:
        """Text area share ``(N,) float`` (0..1) of ``(N, H, W, 3) uint8`` RGB frames of one size."""
        if len(frames) == 0:
            return np.zeros(0)
        prob = self.session.run(None, {self.input: self._prepare(frames)})[0][:, 0]
        return np.array([_box_share(p) for p in prob])


def _box_share(prob: np.ndarray) -> float:
    """Union area of DB boxes over the map's area, from one ``(H, W) float`` probability map."""
    mask = (prob > THRESH).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    covered = np.zeros_like(mask)
    for k in range(1, n):
        x, y, w, h, area = stats[k]
        if min(w, h) < 3 or prob[labels == k].mean() < BOX_THRESH:
            continue
        d = int(round(area * UNCLIP / max(2 * (w + h), 1)))
        covered[max(0, y - d):y + h + d, max(0, x - d):x + w + d] = 1
    return float(covered.mean())
