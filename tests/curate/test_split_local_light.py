"""A light switched on or off over part of a fixed camera's view is no shot boundary
(:func:`curate.split.lights.lit_in_place`).

The frames are generated with exact truth: a textured wall, a dark object crossing it
(the scene moves throughout), sensor noise, and from frame ``AT`` a pool of light (the
wall's levels times up to 1 + ``gain``, a Gaussian falloff) over part of it, or its
switching off. One gain and offset per channel cannot explain that
(:func:`curate.split.spikes.relit`), so the content score's cut stood. A box brought in
at that frame (a jump cut: light added too, but new edges) and a cut to another, brighter
wall are still cuts.
"""

import numpy as np
import pytest

import curate.split.spikes as spikes
from curate.split.lights import lit_in_place
from curate.split.spikes import relit
from support.synth import detect_frames, render

W, H, FPS = 256, 144, 25.0
AT = 45


def _frames(gain: float = 2.0, centre=(60, 40), sigma: float = 45.0, off: bool = False,
            box: bool = False, other_wall: bool = False, n: int = 90) -> list[np.ndarray]:
    """``n`` BGR ``(H, W, 3) uint8`` frames of a dim wall with a 30 px object moving at 2 px
    a frame; from frame ``AT``: a pool of light of ``gain`` and ``sigma`` px at ``centre``
    (or, with ``off``, lit until ``AT`` and dark after), else a flat grey 50 x 50 px box
    (``box``), else another wall twice as bright (``other_wall``)."""
    rng = np.random.default_rng(5)
    walls = [render(70, 0.0, W, H, drift=0.0).astype(np.float32) * 0.5,
             render(71, 0.0, W, H, drift=0.0).astype(np.float32)]
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    pool = 1.0 + gain * np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * sigma ** 2))
    out = []
    for i in range(n):
        img = walls[int(other_wall and i >= AT)].copy()
        x = abs((150 + 2 * i) % (2 * (W - 30)) - (W - 30))
        img[95:125, x:x + 30] *= 0.4
        lit = (i >= AT) != off
        if lit and not (box or other_wall):
            img *= pool[..., None]
        if box and i >= AT:
            img[20:70, 30:80] = 200.0
        img += rng.normal(0, 1.5, img.shape)
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def _detect(frames: list[np.ndarray]):
    return detect_frames(frames, FPS)


@pytest.mark.parametrize("gain,centre,sigma,off", [
    (2.0, (60, 40), 45.0, False), (1.2, (180, 60), 35.0, False), (2.0, (60, 40), 45.0, True),
])
def test_a_pool_of_light_switched_in_a_fixed_view_is_no_cut(gain, centre, sigma, off, monkeypatch):
    frames = _frames(gain, centre, sigma, off)
    b, thumbs = _detect(frames)
    assert b.cuts == [] and b.gaps == [], b
    a, z = thumbs[AT - 1], thumbs[AT]
    assert np.abs(z.astype(np.int16) - a).max() > 30  # a clear change, in part of the picture
    assert not relit(a, z, 1.5) and lit_in_place(a, z, 1.5)
    # without the rule the content score's cut stands: the test can fail
    monkeypatch.setattr(spikes, "lit_in_place", lambda *args: False)
    b, _ = _detect(frames)
    assert b.cuts == [AT], b


def test_a_box_brought_in_is_still_a_cut():
    """Light is added where the box comes in, but with edges of its own."""
    b, thumbs = _detect(_frames(box=True))
    assert b.cuts == [AT], b
    assert not lit_in_place(thumbs[AT - 1], thumbs[AT], 1.5)


def test_a_cut_to_a_brighter_wall_is_still_a_cut():
    b, thumbs = _detect(_frames(other_wall=True))
    assert b.cuts == [AT], b
    assert not lit_in_place(thumbs[AT - 1], thumbs[AT], 1.5)
