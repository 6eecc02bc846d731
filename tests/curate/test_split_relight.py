"""A light switched on or off in a fixed camera's view is no shot boundary.

Every pixel changes at once, by over 100 grey levels where a gain of 1.8 clips a bright
wall to white, so PySceneDetect's content score passes its threshold; but a gain and
offset per channel map the picture before onto the picture after
(:func:`curate.split.spikes.relit`). The frames are generated with exact truth: a textured
room, a dark object crossing it (the scene moves throughout), sensor noise, and the light
changed at frame 45; or, at that frame, a cut to another room under the new light. A
camera switching to infrared (greyscale, its own gain) or back is judged on the luma.
"""

import cv2
import numpy as np
import pytest

from curate.split.spikes import relit
from support.synth import detect_frames, render

W, H, FPS = 256, 144, 25.0
AT = 45


def _frames(gain: float, offset: float, other_view: bool = False, n: int = 90,
            speed: int = 2, size: int = 30) -> list[np.ndarray]:
    """``n`` BGR ``(H, W, 3) uint8`` frames; from frame ``AT`` the light is ``gain`` x +
    ``offset`` (clipped to 0-255), and the room another one when ``other_view``; the
    ``size`` px object moves ``speed`` px a frame, back and forth."""
    rng = np.random.default_rng(11)
    rooms = [render(80, 0.0, W, H, drift=0.0).astype(np.float32),
             render(81, 0.0, W, H, drift=0.0).astype(np.float32)]
    out = []
    for i in range(n):
        img = rooms[int(other_view and i >= AT)].copy()
        x = abs((20 + speed * i) % (2 * (W - size)) - (W - size))  # back and forth, no jump
        img[70:70 + size, x:x + size] *= 0.4
        if i >= AT:
            img = img * gain + offset
        img += rng.normal(0, 1.5, img.shape)
        out.append(np.clip(img, 0, 255).astype(np.uint8)[..., ::-1].copy())
    return out


def _detect(frames: list[np.ndarray]):
    return detect_frames(frames, FPS)


@pytest.mark.parametrize("gain,offset", [(1.8, 0.0), (0.5, 10.0), (1.3, 40.0)])
def test_a_light_switched_in_a_fixed_cameras_view_is_no_cut(gain, offset):
    b, thumbs = _detect(_frames(gain, offset))
    assert np.abs(thumbs[AT].astype(np.int16) - thumbs[AT - 1]).mean() > 15  # a strong change
    assert b.cuts == [] and b.gaps == [], b


def test_an_exposure_step_while_something_moves_fast_is_no_cut():
    """A 60 px object crossing at 9 px a frame leaves more than the light explains on some
    pixels (95 % of the residual is not under 10 levels), as it does on the frames around."""
    b, thumbs = _detect(_frames(1.35, 0.0, speed=9, size=60))
    assert np.abs(thumbs[AT].astype(np.int16) - thumbs[AT - 1]).mean() > 15
    assert b.cuts == [] and b.gaps == [], b


@pytest.mark.parametrize("gain,offset", [(1.8, 0.0), (0.5, 10.0), (1.0, 0.0)])
def test_a_cut_to_another_view_under_a_new_light_is_still_a_cut(gain, offset):
    b, _ = _detect(_frames(gain, offset, other_view=True))
    assert b.cuts == [AT] and b.gaps == [], b


@pytest.mark.parametrize("before,after", [(20.0, 60.0), (40.0, 90.0)])
def test_a_cut_between_two_dim_flat_places_is_still_a_cut(before, after):
    """At a tenth of their contrast (night, fog), a gain and offset map either room's levels
    onto the other's to within a fifth of the change; what they leave is as large as the
    pictures' own detail, which a relight would keep."""
    rng = np.random.default_rng(12)
    rooms = [render(80, 0.0, W, H, drift=0.0).astype(np.float32),
             render(81, 0.0, W, H, drift=0.0).astype(np.float32)]
    frames = []
    for i in range(90):
        room = rooms[int(i >= AT)]
        img = (room - room.mean()) * 0.1 + (before if i < AT else after)
        img = img + rng.normal(0, 0.5, img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8)[..., ::-1].copy())
    b, _ = _detect(frames)
    assert b.cuts == [AT] and b.gaps == [], b


def test_a_flat_picture_does_not_pass_for_a_relit_detailed_one():
    """Predicted from a flat grey frame, a detailed frame leaves its whole contrast; the way
    from detailed to flat alone (a gain of 0) would explain everything."""
    room = render(80, 0.0, 32, 18)
    flat = np.full_like(room, 128)
    assert not relit(room, flat, 0.0) and not relit(flat, room, 0.0)
    brighter = np.clip(room.astype(np.float32) * 1.5 + 5, 0, 255).astype(np.uint8)
    assert relit(room, brighter, 0.0) and relit(brighter, room, 0.0)


def _infrared(frames: list[np.ndarray], gain: float, offset: float, back: bool = False) -> list[np.ndarray]:
    """``frames`` from ``AT`` on (before ``AT`` with ``back``) in greyscale: their luma x
    ``gain`` + ``offset``, as a security camera switching to infrared at dusk (or to
    colour at dawn)."""
    out = []
    for i, f in enumerate(frames):
        if (i < AT) if back else (i >= AT):
            y = cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float32) * gain + offset
            f = np.repeat(np.clip(y, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
        out.append(f)
    return out


@pytest.mark.parametrize("gain,offset,back", [(1.0, 0.0, False), (1.4, 10.0, False), (0.7, 30.0, False),
                                              (1.4, 10.0, True)])
def test_a_camera_switching_to_infrared_in_the_same_view_is_no_cut(gain, offset, back):
    """Colour gone (or come) at frame 45: every thumbnail pixel's channels change, by 23
    levels on average, but the luma is the luma before under a gain and offset."""
    b, thumbs = _detect(_infrared(_frames(1.0, 0.0), gain, offset, back))
    assert np.abs(thumbs[AT].astype(np.int16) - thumbs[AT - 1]).mean() > 10
    assert b.cuts == [] and b.gaps == [], b


@pytest.mark.parametrize("gain,offset", [(1.0, 0.0), (1.4, 10.0)])
def test_a_cut_to_another_view_in_greyscale_is_still_a_cut(gain, offset):
    b, _ = _detect(_infrared(_frames(1.0, 0.0, other_view=True), gain, offset))
    assert b.cuts == [AT] and b.gaps == [], b
