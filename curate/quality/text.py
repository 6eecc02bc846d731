"""On-screen text: the share of the picture covered by text boxes (subtitles, watermarks, slides).

Text is found with the PP-OCRv4 text detection model (DB, Liao et al., "Real-time Scene
Text Detection with Differentiable Binarization", AAAI 2020; PaddleOCR), the ONNX file
that the ``rapidocr-onnxruntime`` wheel ships (``models/ch_PP-OCRv4_det_infer.onnx``),
run here with ONNX Runtime directly: install the wheel with ``pip install --no-deps
rapidocr-onnxruntime`` (its ``opencv-python`` requirement would replace the headless
OpenCV this project uses). Post-processing follows DB's (:mod:`curate.quality.textboxes`:
turned rectangles around the map's regions). With a
:class:`curate.quality.textread.TextReader` (the default of the quality stage), each
region that is not line-shaped (within 45 degrees of the horizontal and at least
``line_aspect`` times as long as high) is read by PP-OCR's recognition model and counts
only when it reads as text (:func:`curate.quality.textread.reads_as_text`): the detector
alone had marked cars, a table top and a signer as text on real footage, all of them
regions about as tall as wide. A line-shaped region counts whatever it reads: the recognition model
knows Chinese and Latin letters (Cyrillic, Greek and Armenian read as their Latin
look-alikes), so a subtitle in Arabic or Georgian script reads as a few letters at a
confidence of 0.2-0.3 (``bench/text_accuracy.py``). The score is the area of the union
of the regions that count over the frame area.
"""

from __future__ import annotations

import cv2
import numpy as np

from curate.quality.textboxes import TextRegion, db_regions, fill, upright_crop
from curate.quality.textread import TextReader, reads_as_text
from curate.quality.weights import require, session

PACKAGE, RELPATH = "rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx"
HINT = "install it with: pip install --no-deps rapidocr-onnxruntime (or set text_model to a .onnx path)"
MAX_BOXES = 32  # largest regions read per frame (the rest count as not text)
VERTICAL_CHARS = 3  # letters or digits a vertical region's reading needs


class TextDetector:
    """PP-OCR text detection over batches of frames (model loaded once, in the constructor).

    ``model``: a ``.onnx`` path or None for the packaged file; ``side``: the short side
    (pixels, rounded to a multiple of 32) frames are resized to; ``reader``: a
    :class:`~curate.quality.textread.TextReader` that must read a region as text for it to
    count (None: every detected region counts), with ``min_chars`` and ``min_score`` as in
    :func:`~curate.quality.textread.reads_as_text`, and ``line_aspect`` (width over height
    of a region that counts unread; None: every region is read). Raises
    :class:`curate.quality.weights.WeightsMissing` when the model is not found.
    """

    def __init__(self, model: str | None = None, side: int = 480, threads: int = 1,
                 reader: TextReader | None = None, min_chars: int = 2, min_score: float = 0.5,
                 line_aspect: float | None = 3.0):
        self.path = require(model, PACKAGE, RELPATH, HINT)
        self.side = max(32, side // 32 * 32)
        self.session = session(self.path, threads)
        self.input = self.session.get_inputs()[0].name
        self.reader, self.min_chars, self.min_score = reader, min_chars, min_score
        self.line_aspect = line_aspect

    def _resized(self, frames: np.ndarray) -> np.ndarray:
        """``(N, h, w, 3) uint8`` BGR: RGB frames resized so the short side is ``side``, both
        sides multiples of 32 (the network's stride)."""
        h, w = frames.shape[1:3]
        s = self.side / min(h, w)
        size = (max(32, round(w * s / 32) * 32), max(32, round(h * s / 32) * 32))
        return np.stack([cv2.resize(f[..., ::-1], size, interpolation=cv2.INTER_LINEAR) for f in frames])

    def detect(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The detector's input images ``(N, h, w, 3) uint8`` BGR (:meth:`_resized`) and its
        probability maps ``(N, h, w) float32`` for ``(N, H, W, 3) uint8`` RGB frames of one size."""
        images = self._resized(frames)
        batch = ((images.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(0, 3, 1, 2)
        return images, self.session.run(None, {self.input: batch})[0][:, 0]

    def area(self, frames: np.ndarray) -> np.ndarray:
        """Text area share ``(N,) float`` (0..1) of ``(N, H, W, 3) uint8`` RGB frames of one size."""
        if len(frames) == 0:
            return np.zeros(0)
        images, prob = self.detect(frames)
        return np.array([self.share(p, img) for p, img in zip(prob, images)])

    def share(self, prob: np.ndarray, image: np.ndarray) -> float:
        """Area of the union of the regions that count over the map's area (``image``: the
        frame the map was computed from, ``(h, w, 3) uint8`` BGR). A vertical region is read
        turned either way (a line reading down or up) and counts when either reads
        (:meth:`_chars`)."""
        regions = db_regions(prob)
        if self.reader is not None:
            lines, rest = [], []
            for r in regions:
                (lines if self._line(r) else rest).append(r)
            rest = sorted(rest, key=lambda r: r.area, reverse=True)[:MAX_BOXES]
            crops, owner = [], []
            for k, region in enumerate(rest):
                crop = upright_crop(image, region)
                for c in [crop] if region.horizontal else [crop, crop[::-1, ::-1]]:
                    crops.append(c)
                    owner.append(k)
            readings = self.reader.read(crops) if crops else []
            read = {k for k, (text, conf) in zip(owner, readings)
                    if reads_as_text(text, conf, self._chars(rest[k]), self.min_score)}
            regions = lines + [r for k, r in enumerate(rest) if k in read]
        return float(fill(prob.shape, regions).mean())

    def _chars(self, region: TextRegion) -> int:
        """Letters or digits a reading of ``region`` needs: :data:`VERTICAL_CHARS` at least for
        a vertical one, read two ways (a car seen from above read as ``CD`` at 0.72 turned
        upside down: a break test)."""
        return self.min_chars if region.horizontal else max(self.min_chars, VERTICAL_CHARS)

    def _line(self, region: TextRegion) -> bool:
        """Whether ``region`` is line-shaped: within 45 degrees of the horizontal and at least
        ``line_aspect`` times as long as it is high."""
        return self.line_aspect is not None and region.horizontal and region.long >= self.line_aspect * region.short
