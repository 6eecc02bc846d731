"""Graphics drawn over rendered shots, with known truth: a lower third, a title, a darkened
score box, a title over the shot dimmed behind it (tests of curate.split.overlays and
curate.split.overlay_fades). Frames are BGR ``(H, W, 3) uint8`` at the split stage's
detection size."""

import cv2
import numpy as np

from support.synth import render

W, H, FPS = 256, 144, 25.0


def moving_shot(seed: int, n: int) -> list[np.ndarray]:
    """``n`` frames of scene ``seed``, its blobs drifting a tenth of the picture a second (a
    moving shot), BGR ``(H, W, 3) uint8``."""
    return [render(seed, k / FPS, W, H, drift=0.1)[..., ::-1].copy() for k in range(n)]


def lower_third(f: np.ndarray) -> np.ndarray:
    o = f.copy()
    o[100:130, 8:200] = (120, 40, 20)
    cv2.putText(o, "JANE DOE - REPORTER", (14, 121), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return o


def title(f: np.ndarray) -> np.ndarray:
    o = f.copy()
    cv2.putText(o, "BREAKING", (16, 80), cv2.FONT_HERSHEY_DUPLEX, 1.5, (255, 255, 255), 4, cv2.LINE_AA)
    return o


def score_box(f: np.ndarray) -> np.ndarray:
    o = f.copy()
    o[12:110, 20:230] = (o[12:110, 20:230] * 0.35).astype(np.uint8)
    cv2.putText(o, "SCORE 2 - 1", (40, 70), cv2.FONT_HERSHEY_DUPLEX, 0.9, (255, 255, 255), 2, cv2.LINE_AA)
    return o


def dimmed_title(f: np.ndarray) -> np.ndarray:
    """The shot dimmed to 45 % behind a title (every pixel changes, the title's most)."""
    return title(np.rint(f.astype(np.float32) * 0.45).astype(np.uint8))
