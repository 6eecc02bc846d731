"""Things moving in front of a camera, pasted into luma frames with exact known motion:
an opaque textured object, or a textured band across the whole width (a train, a bus, a
ticker). Textures are support.synth scenes stretched to 20-235 grey levels."""

from __future__ import annotations

import cv2
import numpy as np

from support.synth import render


def _texture(seed: int, w: int, h: int) -> np.ndarray:
    """``(h, w) uint8`` luma of scene ``seed``, stretched to 20-235."""
    return cv2.normalize(cv2.cvtColor(render(seed, 0, w, h), cv2.COLOR_RGB2GRAY), None, 20, 235, cv2.NORM_MINMAX)


def with_object(frames: np.ndarray, x0, y0, w: int, h: int, vx, vy, seed: int = 99) -> np.ndarray:
    """``(N, H, W) uint8`` frames with an opaque textured ``w`` x ``h`` object at
    ``(x0 + vx i, y0 + vy i)`` (pixels, rounded) in frame ``i``; the part outside the
    frame is cut off (an object entering or leaving the view)."""
    tex = _texture(seed, w, h)
    out = frames.copy()
    height, width = out.shape[1:3]
    for i, f in enumerate(out):
        x, y = int(round(x0 + vx * i)), int(round(y0 + vy * i))
        xa, xb, ya, yb = max(0, x), min(width, x + w), max(0, y), min(height, y + h)
        if xb > xa and yb > ya:
            f[ya:yb, xa:xb] = tex[ya - y:yb - y, xa - x:xb - x]
    return out


def with_band(frames: np.ndarray, y0: int, h: int, vx, seed: int = 98) -> np.ndarray:
    """``(N, H, W) uint8`` frames with a textured band across the whole width over rows
    ``y0:y0 + h``, its texture moving ``vx`` px per frame."""
    width = frames.shape[2]
    tex = _texture(seed, 4 * width, h)
    out = frames.copy()
    for i, f in enumerate(out):
        x = int(round(vx * i))
        f[y0:y0 + h] = tex[:, x:x + width]
    return out
