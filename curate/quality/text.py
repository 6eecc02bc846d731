"""On-screen text: the share of the picture covered by text boxes (subtitles, watermarks, slides).

Text is found with the PP-OCRv4 text detection model (DB, Liao et al., "Real-time Scene
Text Detection with Differentiable Binarization", AAAI 2020; PaddleOCR), the ONNX file
that the ``rapidocr-onnxruntime`` wheel ships (``models/ch_PP-OCRv4_det_infer.onnx``),
run here with ONNX Runtime directly: install the wheel with ``pip install --no-deps
rapidocr-onnxruntime`` (its ``opencv-python`` requirement would replace the headless
OpenCV this project uses). Post-processing follows DB's: the probability map over 0.3,
connected regions whose mean probability is at least 0.5, each region's box grown by
``area * 1.6 / perimeter`` (DB's unclip ratio). With a :class:`curate.quality.textread.TextReader`
(the default of the quality stage), each box is then read by PP-OCR's recognition model
and counts only when it reads as text (:func:`curate.quality.textread.reads_as_text`):
the detector alone had marked cars, a table top and a signer as text on real footage.
The score is the area of the union of the boxes that count over the frame area.
"""

from __future__ import annotations

import cv2
import numpy as np

from curate.quality.textread import TextReader, reads_as_text
from curate.quality.weights import require, session

PACKAGE, RELPATH = "rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx"
HINT = "install it with: pip install --no-deps rapidocr-onnxruntime (or set text_model to a .onnx path)"
THRESH, BOX_THRESH, UNCLIP = 0.3, 0.5, 1.6
MAX_BOXES = 32  # largest boxes read per frame (the rest count as not text)


class TextDetector:
    """PP-OCR text detection over batches of frames (model loaded once, in the constructor).

    ``model``: a ``.onnx`` path or None for the packaged file; ``side``: the short side
    (pixels, rounded to a multiple of 32) frames are resized to; ``reader``: a
    :class:`~curate.quality.textread.TextReader` that must read a box as text for it to
    count (None: every detected box counts), with ``min_chars`` and ``min_score`` as in
    :func:`~curate.quality.textread.reads_as_text`. Raises
    :class:`curate.quality.weights.WeightsMissing` when the model is not found.
    """

    def __init__(self, model: str | None = None, side: int = 480, threads: int = 1,
                 reader: TextReader | None = None, min_chars: int = 2, min_score: float = 0.5):
        self.path = require(model, PACKAGE, RELPATH, HINT)
        self.side = max(32, side // 32 * 32)
        self.session = session(self.path, threads)
        self.input = self.session.get_inputs()[0].name
        self.reader, self.min_chars, self.min_score = reader, min_chars, min_score

    def _resized(self, frames: np.ndarray) -> np.ndarray:
        """``(N, h, w, 3) uint8`` BGR: RGB frames resized so the short side is ``side``, both
        sides multiples of 32 (the network's stride)."""
        h, w = frames.shape[1:3]
        s = self.side / min(h, w)
        size = (max(32, round(w * s / 32) * 32), max(32, round(h * s / 32) * 32))
        return np.stack([cv2.resize(f[..., ::-1], size, interpolation=cv2.INTER_LINEAR) for f in frames])

    def area(self, frames: np.ndarray) -> np.ndarray:
        """Text area share ``(N,) float`` (0..1) of ``(N, H, W, 3) uint8`` RGB frames of one size."""
        if len(frames) == 0:
            return np.zeros(0)
        images = self._resized(frames)
        batch = ((images.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(0, 3, 1, 2)
        prob = self.session.run(None, {self.input: batch})[0][:, 0]
        return np.array([self._share(p, img) for p, img in zip(prob, images)])

    def _share(self, prob: np.ndarray, image: np.ndarray) -> float:
        """Union area of the boxes that count over the map's area (``image``: the frame the
        map was computed from, ``(h, w, 3) uint8`` BGR)."""
        boxes = db_boxes(prob)
        if self.reader is not None and boxes:
            boxes = sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)[:MAX_BOXES]
            readings = self.reader.read([image[y0:y1, x0:x1] for x0, y0, x1, y1 in boxes])
            boxes = [b for b, (text, conf) in zip(boxes, readings)
                     if reads_as_text(text, conf, self.min_chars, self.min_score)]
        covered = np.zeros(prob.shape, np.uint8)
        for x0, y0, x1, y1 in boxes:
            covered[y0:y1, x0:x1] = 1
        return float(covered.mean())


def db_boxes(prob: np.ndarray) -> list[tuple[int, int, int, int]]:
    """DB boxes ``(x0, y0, x1, y1)`` (pixels of the map, end exclusive, inside it) of one
    ``(H, W) float`` probability map (module docstring)."""
    mask = (prob > THRESH).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    h, w = prob.shape
    out = []
    for k in range(1, n):
        x, y, bw, bh, area = stats[k]
        if min(bw, bh) < 3 or prob[labels == k].mean() < BOX_THRESH:
            continue
        d = int(round(area * UNCLIP / max(2 * (bw + bh), 1)))
        out.append((max(0, x - d), max(0, y - d), min(w, x + bw + d), min(h, y + bh + d)))
    return out
