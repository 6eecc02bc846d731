"""A light blinking in a fixed camera's view is no shot boundary (:mod:`curate.split.lights`).

The frames are generated with exact truth: a still textured wall, a dark object crossing
it (the scene moves throughout), sensor noise, and a neon sign (a coloured box with a
glow) switched on and off every ``period`` frames. Each switch changes the sign's pixels
by far more than the frames around, so PySceneDetect's content score or a spike of the
thumbnail change fires at some of them; the region going back to both states, over and
over, tells the sign from a jump cut. A jump cut of the same camera (a box brought in that
stays) and cuts between two cameras every 12 frames are still cuts.
"""

import cv2
import numpy as np
import pytest

import curate.split.lights as lights
import curate.split.shots as shots
from curate.split.lights import blinks
from curate.split.overlays import picture
from support.synth import detect_frames, render

W, H, FPS = 256, 144, 25.0


def _frames(n: int = 150, period: int = 10, sign: bool = True, jump_at: int | None = None,
            seed: int = 80, lit_from: int | None = None, still: bool = False) -> list[np.ndarray]:
    """``n`` BGR ``(H, W, 3) uint8`` frames of one wall (``render(seed)``): an object
    crossing at 2 px a frame, a magenta sign 48 x 16 px at (150, 20) lit for ``period``
    frames out of every ``2 * period`` (when ``sign``; from frame ``lit_from`` on instead,
    when given), and from frame ``jump_at`` a grey box 40 x 40 px at (40, 90) that stays
    (a jump cut). With ``still``, no object crosses."""
    rng = np.random.default_rng(3)
    wall = render(seed, 0.0, W, H, drift=0.0).astype(np.float32) * 0.6
    box = np.zeros((H, W), np.float32)
    box[20:36, 150:198] = 1.0
    glow = cv2.GaussianBlur(box, (0, 0), 6)
    light = (0.9 * box + 0.8 * glow)[..., None] * np.float32([230, 40, 210])  # RGB
    out = []
    for i in range(n):
        img = wall.copy()
        x = abs((20 + 2 * i) % (2 * (W - 30)) - (W - 30))
        if not still:
            img[100:130, x:x + 30] *= 0.4
        if jump_at is not None and i >= jump_at:
            img[90:130, 40:80] = 150.0
        on = i >= lit_from if lit_from is not None else (i // period) % 2 == 1
        if sign and on:
            img = img + light
        img += rng.normal(0, 1.5, img.shape)
        out.append(np.clip(img, 0, 255).astype(np.uint8)[..., ::-1].copy())
    return out


def _detect(frames: list[np.ndarray]):
    return detect_frames(frames, FPS)


@pytest.mark.parametrize("period", [8, 10, 17])
def test_a_blinking_sign_is_no_cut(period, monkeypatch):
    frames = _frames(period=period)
    b, thumbs = _detect(frames)
    assert b.cuts == [] and b.gaps == [], b
    switches = list(range(period, len(frames), period))
    assert all(blinks(thumbs, c, FPS, picture(thumbs)) for c in switches[1:-1])
    # without the rule, the switches are cuts: the test can fail
    monkeypatch.setattr(shots, "drop_blinks", lambda cuts, *a: cuts)
    b, _ = _detect(frames)
    assert b.cuts and set(b.cuts) <= set(switches), b


@pytest.mark.parametrize("jump_at", [75, 77])
def test_a_jump_cut_beside_a_blinking_sign_is_kept(jump_at):
    """The box comes in and stays: its region never goes back (switches at 68 and 85)."""
    b, thumbs = _detect(_frames(jump_at=jump_at, period=17))
    assert b.cuts == [jump_at], b
    assert not blinks(thumbs, jump_at, FPS, picture(thumbs))


def test_a_sign_switched_on_once_is_no_blink():
    """One switch (the sign stays lit) is judged by the other rules, not as a blink."""
    _, thumbs = _detect(_frames(lit_from=70))
    assert np.abs(thumbs[70].astype(np.int16) - thumbs[69]).max() > 40  # the sign changes clearly
    assert not blinks(thumbs, 70, FPS, picture(thumbs))


def test_cuts_between_two_cameras_every_12_frames_are_kept():
    """Two views cut back and forth: the region would go back to both states over and
    over, but it is the whole picture, so each is a cut."""
    a, c = _frames(sign=False, seed=80), _frames(sign=False, seed=81)
    frames = [(a if (i // 12) % 2 == 0 else c)[i] for i in range(144)]
    b, _ = _detect(frames)
    assert b.cuts == list(range(12, 144, 12)), b


def test_two_people_cut_back_and_forth_against_one_wall_are_no_blink(monkeypatch):
    """Shot/reverse-shot in one room: the region goes back to both states, but a person
    coming in darkens the wall where the other leaves lightens it (the change goes both
    ways), so no switch is a blink. (The overlay rule, :mod:`curate.split.overlays`,
    judges such a pair of cuts on its own terms; here only the blink is asked.)"""
    rng = np.random.default_rng(4)
    wall = render(80, 0.0, W, H, drift=0.0).astype(np.float32) * 0.8
    people = [render(90, 0.0, 60, 90, drift=0.0).astype(np.float32) * 0.35,
              render(91, 0.0, 60, 80, drift=0.0).astype(np.float32) * 0.45]
    frames = []
    for i in range(144):
        img = wall.copy()
        sway = int(round(8 * np.sin(i / 2.0)))
        if (i // 12) % 2 == 0:
            img[40:130, 40 + sway:100 + sway] = people[0]  # one person, left
        else:
            img[50:130, 150 + sway:210 + sway] = people[1]  # the other, right
        x = abs((20 + 3 * i) % (2 * (W - 30)) - (W - 30))
        img[0:30, x:x + 30] *= 0.4  # a shadow crossing above them: the room is live picture
        img += rng.normal(0, 1.5, img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    _, thumbs = _detect(frames)
    live, switches = picture(thumbs), range(24, 120, 12)
    assert not any(blinks(thumbs, c, FPS, live) for c in switches)
    # without the one-way test they are: the test can fail
    monkeypatch.setattr(lights, "one_way", lambda *args: True)
    assert all(blinks(thumbs, c, FPS, live) for c in switches)


def test_a_sign_blinking_in_a_still_view_is_no_cut():
    """Nothing moves but the sign (a tripod on a still street): the changing picture is the
    sign alone, so its region is judged against a quarter of the frame (from a review)."""
    frames = _frames(period=17, still=True)
    b, thumbs = _detect(frames)
    assert b.cuts == [] and b.gaps == [], b
    assert blinks(thumbs, 34, FPS, picture(thumbs))
