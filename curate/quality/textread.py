"""Text recognition of detected boxes: whether a box the text detector found holds text.

The PP-OCR text detector (:mod:`curate.quality.text`) marks text-like strokes; on real
footage it also marks cars, table tops, a signer's hands and shirt, boxes that cover a
few % of the picture each (``bench/text_accuracy.py``). The PP-OCRv4 recognition model
(SVTR-LCNet, Du et al., "SVTR: Scene Text Recognition with a Single Visual Model", IJCAI
2022; PaddleOCR; ``models/ch_PP-OCRv4_rec_infer.onnx`` of the ``rapidocr-onnxruntime``
wheel, its character list in the file's metadata) reads each box: a text line reads as
several characters with high confidence, a car as one letter or nothing.

Preprocessing and decoding follow PaddleOCR's: each crop (BGR) is resized to 48 pixels
high at its own aspect, scaled to -1..1 and padded with zeros to 320 pixels wide, or to
its own width when wider (PaddleOCR pads to the widest crop of its batch, at least 320;
here crops of one padded width share a batch, so a reading never depends on the other
crops of the frame: a ring had read as ``0`` at 0.82 alone and ``O`` at 0.62 beside a
wide crop); CTC greedy decoding (Graves et al., ICML 2006) takes the most likely class per
time step, joins repeats and drops the blank (class 0); the confidence is the mean of
the kept steps' probabilities.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from curate.quality.weights import require, session

PACKAGE, RELPATH = "rapidocr_onnxruntime", "models/ch_PP-OCRv4_rec_infer.onnx"
HINT = "install it with: pip install --no-deps rapidocr-onnxruntime (or set text_rec_model to a .onnx path)"
HEIGHT = 48  # px: the recognition model's input height
MIN_WIDTH = 320  # px: every crop is padded to at least this width (PaddleOCR's 320 x 48 input)
MAX_RATIO = 40.0  # widest part of a crop read, in heights (a longer ticker line is read to there)
BATCH = 16  # crops per model call


class TextReader:
    """PP-OCRv4 text recognition (model loaded once, in the constructor).

    ``model``: a ``.onnx`` path or None for the packaged file. The character list is read
    from the model's ``character`` metadata (PaddleOCR's export). Raises
    :class:`curate.quality.weights.WeightsMissing` when the model is not found and
    ValueError when it carries no character list.
    """

    def __init__(self, model: str | None = None, threads: int = 1):
        self.path = require(model, PACKAGE, RELPATH, HINT)
        self.session = session(self.path, threads)
        self.input = self.session.get_inputs()[0].name
        self.chars = characters(self.session, self.path)

    def read(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Text and confidence (0..1; 0.0 for nothing read) of each ``(h, w, 3) uint8`` BGR
        crop, in the order given. Crops of one padded width (:func:`padded_width`) are
        batched together."""
        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        by_width: dict[int, list[int]] = {}
        for i, c in enumerate(crops):
            by_width.setdefault(padded_width(c.shape[0], c.shape[1]), []).append(i)
        for width, members in sorted(by_width.items()):
            for start in range(0, len(members), BATCH):
                idx = members[start:start + BATCH]
                batch = np.stack([_normalised(crops[i], width) for i in idx])
                probs = self.session.run(None, {self.input: batch})[0]
                for i, p in zip(idx, probs):
                    out[i] = self._decode(p)
        return out

    def _decode(self, probs: np.ndarray) -> tuple[str, float]:
        """CTC greedy decoding of one ``(T, classes) float32`` probability sequence."""
        best = probs.argmax(axis=1)
        keep = np.r_[True, best[1:] != best[:-1]] & (best != 0)
        if not keep.any():
            return "", 0.0
        text = "".join(self.chars[k] if k < len(self.chars) else "" for k in best[keep])
        return text, float(probs.max(axis=1)[keep].mean())


def characters(sess, path: str) -> list[str]:
    """The CTC classes of a recognition model's ONNX Runtime session ``sess`` (of ``path``):
    the blank, the ``character`` metadata's lines, PaddleOCR's space. Raises ValueError when
    the model has no such metadata (not a PaddleOCR recognition export)."""
    chars = sess.get_modelmeta().custom_metadata_map.get("character")
    if not chars:
        raise ValueError(f"{path} has no 'character' metadata (a PaddleOCR recognition export)")
    return [""] + chars.splitlines() + [" "]


def check_model(path: str) -> None:
    """Open ``path`` and read its character list (:func:`characters`), so a pipeline file
    naming a model that cannot read fails when it is read. Raises ValueError."""
    try:
        sess = session(path)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a bad file
        raise ValueError(f"{path} does not open as an ONNX model: {exc}") from None
    characters(sess, path)


def padded_width(h: int, w: int) -> int:
    """Input width (px) for a crop of ``h`` x ``w`` pixels: its width at :data:`HEIGHT` rows
    (at most :data:`MAX_RATIO` heights), at least :data:`MIN_WIDTH`."""
    return max(MIN_WIDTH, int(math.ceil(HEIGHT * min(w / max(h, 1), MAX_RATIO))))


def _normalised(crop: np.ndarray, width: int) -> np.ndarray:
    """``(3, HEIGHT, width) float32`` in -1..1: ``crop`` (its first :data:`MAX_RATIO`
    heights) resized to ``HEIGHT`` rows at its aspect, padded with zeros on the right."""
    crop = crop[:, :max(1, int(MAX_RATIO * crop.shape[0]))]
    h, w = crop.shape[:2]
    cols = max(1, min(width, int(math.ceil(HEIGHT * w / max(h, 1)))))
    img = cv2.resize(crop, (cols, HEIGHT), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    out = np.zeros((3, HEIGHT, width), np.float32)
    out[:, :, :cols] = (img / 127.5 - 1.0).transpose(2, 0, 1)
    return out


STROKES = frozenset("Il1i|!")  # what a row of posts, bars or slashes reads as


def reads_as_text(text: str, confidence: float, min_chars: int = 2, min_score: float = 0.5) -> bool:
    """Whether a reading counts as text: at least ``min_chars`` letters or digits read with a
    mean confidence of at least ``min_score``, not all of them upright strokes (:data:`STROKES`:
    five white slashes read as ``II`` at 0.50)."""
    chars = [ch for ch in text if ch.isalnum()]
    return len(chars) >= min_chars and confidence >= min_score and not set(chars) <= STROKES
