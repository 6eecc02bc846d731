"""Headlights sweeping into a fixed view are no dissolve (:func:`curate.split.lights.swept`).

The frames are generated with exact truth: a dim textured street, a dark object crossing
it, sensor noise, and a car's glare (a broad Gaussian bloom up to ``peak`` levels, drifting
sideways) that grows over ``ramp`` frames from frame ``AT``, holds, and fades. Each leg
is a mix of the street and the street under the glare, so the dissolve scan took it for
a dissolve. A dissolve of the same length into another, brighter street (light only
added, too, but other edges) is still a gap.
"""

import numpy as np
import pytest

import curate.split.shots as shots
from curate.split.lights import swept
from support.synth import detect_frames, render

W, H, FPS = 256, 144, 25.0
AT = 40


def _frames(ramp: int = 6, hold: int = 10, peak: float = 90.0, dissolve: bool = False,
            n: int = 110) -> list[np.ndarray]:
    """``n`` BGR ``(H, W, 3) uint8`` frames (module docstring); with ``dissolve``, a
    ``ramp``-frame dissolve from frame ``AT`` into another street 1.6 times as bright."""
    rng = np.random.default_rng(9)
    streets = [render(60, 0.0, W, H, drift=0.0).astype(np.float32) * 0.35,
               render(61, 0.0, W, H, drift=0.0).astype(np.float32) * 0.56]
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    out = []
    for i in range(n):
        if dissolve:
            t = min(max((i - AT + 1) / (ramp + 1), 0.0), 1.0)
            img = (1 - t) * streets[0] + t * streets[1]
        else:
            img = streets[0].copy()
            rise = min(max((i - AT + 1) / ramp, 0.0), 1.0)
            fall = min(max((AT + ramp + hold + ramp - i) / ramp, 0.0), 1.0)
            cx = 60 + 1.5 * (i - AT)
            bloom = np.exp(-((xx - cx) ** 2 + (yy - 100) ** 2) / (2 * 60.0 ** 2))
            img = img + (peak * min(rise, fall) * bloom)[..., None]
        x = abs((20 + 2 * i) % (2 * (W - 30)) - (W - 30))
        img[60:90, x:x + 30] *= 0.4
        img += rng.normal(0, 1.5, img.shape)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def _detect(frames: list[np.ndarray]):
    return detect_frames(frames, FPS)


@pytest.mark.parametrize("ramp,peak", [(6, 90.0), (4, 120.0), (8, 70.0)])
def test_headlights_sweeping_in_are_no_gap(ramp, peak, monkeypatch):
    frames = _frames(ramp=ramp, peak=peak)
    b, _ = _detect(frames)
    assert b.cuts == [] and b.gaps == [], b
    # without the rule, the glare's legs are dissolves: the test can fail
    monkeypatch.setattr(shots, "drop_swept", lambda gaps, thumbs, scanned: gaps)
    b, _ = _detect(frames)
    assert b.gaps and all(AT - 3 <= s and e <= AT + 2 * ramp + 13 for s, e in b.gaps), b


def test_a_dissolve_into_a_brighter_street_is_still_a_gap():
    b, thumbs = _detect(_frames(ramp=10, dissolve=True))
    assert b.cuts == [] and len(b.gaps) == 1, b
    s, e = b.gaps[0]
    assert s <= AT + 5 <= e and not swept(thumbs, s, e)
