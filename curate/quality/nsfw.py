"""NSFW score: the highest confidence of an exposed-body class found by NudeNet's detector.

The detector is NudeNet's YOLOv8 model (``320n.onnx``, 320x320 input) that the
``nudenet`` wheel ships (notAI-tech/NudeNet, v3), run with ONNX Runtime directly so a
batch of frames is one call. Preprocessing is NudeNet's: RGB, padded to a square at
the bottom and right with black, resized to 320, scaled to 0..1. The score of a frame
is the highest class confidence over all anchors among :data:`UNSAFE` classes (no box
is kept: only the score matters), 0..1.
"""

from __future__ import annotations

import cv2
import numpy as np

from curate.quality.weights import require, session

PACKAGE, RELPATH = "nudenet", "320n.onnx"
HINT = "install it with: pip install nudenet (or set nsfw_model to a .onnx path)"
LABELS = ("FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
          "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED",
          "BELLY_COVERED", "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE",
          "BELLY_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED",
          "BUTTOCKS_COVERED")
UNSAFE = ("BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED", "FEMALE_GENITALIA_EXPOSED",
          "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED")
SIZE = 320


class NsfwDetector:
    """NudeNet's detector over batches of frames (model loaded once, in the constructor).

    ``model``: a ``.onnx`` path or None for the packaged file. Raises
    :class:`curate.quality.weights.WeightsMissing` when it is not found.
    """

    def __init__(self, model: str | None = None, threads: int = 1):
        self.path = require(model, PACKAGE, RELPATH, HINT)
        self.session = session(self.path, threads)
        self.input = self.session.get_inputs()[0].name
        self.unsafe = np.array([LABELS.index(c) for c in UNSAFE])

    def scores(self, frames: np.ndarray) -> np.ndarray:
        """NSFW score ``(N,) float`` (0..1) of ``(N, H, W, 3) uint8`` RGB frames."""
        if len(frames) == 0:
            return np.zeros(0)
        batch = np.stack([_square(f) for f in frames]).astype(np.float32) / 255.0
        out = self.session.run(None, {self.input: batch.transpose(0, 3, 1, 2)})[0]  # (N, 4 + 18, anchors)
        return np.clip(out[:, 4 + self.unsafe, :].max(axis=(1, 2)), 0.0, 1.0).astype(float)


def _square(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    side = max(h, w)
    pad = cv2.copyMakeBorder(np.ascontiguousarray(rgb), 0, side - h, 0, side - w, cv2.BORDER_CONSTANT)
    return cv2.resize(pad, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
