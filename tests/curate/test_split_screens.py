"""A screen in view cutting between its own shots is no shot boundary (:mod:`curate.split.screens`).

Frames are rendered with known truth: a room (a moving scene) with a TV in it whose picture
cuts at a known frame, or a real cut to another room, or a jump cut of one fixed camera
whose changed region is not a screen's. They are fed to the split stage's own shot
detector, BGR at the detection size. The tests that drop a cut also check that the detector
gives it without the rule, so they show the rule at work.
"""

import cv2
import numpy as np
import pytest

import curate.split.shots as shots
from curate.split import SplitStage
from curate.split.overlays import picture
from curate.split.screens import best_rectangle, on_screen
from curate.split.transitions import thumbnail
from support.graphics import FPS, moving_shot
from support.synth import render


def _screen(room: list[np.ndarray], box: tuple[int, int, int, int], cuts: list[int], seeds: list[int]):
    """``room`` with a TV at ``box`` (y0, y1, x0, x1 pixels; a 3-pixel dark bezel around it)
    showing scene ``seeds[i]`` (moving) from ``cuts[i - 1]`` on."""
    y0, y1, x0, x1 = box
    out = []
    for k, f in enumerate(room):
        o = f.copy()
        o[y0 - 3:y1 + 3, x0 - 3:x1 + 3] = (20, 20, 24)
        seed = seeds[sum(k >= c for c in cuts)]
        o[y0:y1, x0:x1] = render(seed, k / FPS, x1 - x0, y1 - y0, drift=0.2)[..., ::-1]
        out.append(o)
    return out


def _points(frames: list[np.ndarray]) -> list[int]:
    detector = SplitStage().shot_detector(FPS)
    for f in frames:
        detector.feed(f)
    return detector.boundaries().points()


def _without_rule(monkeypatch, frames: list[np.ndarray]) -> list[int]:
    with monkeypatch.context() as m:
        m.setattr(shots, "drop_screen_cuts", lambda cuts, thumbs, live: list(cuts))
        return _points(frames)


@pytest.mark.parametrize("box", [(40, 88, 90, 170), (20, 74, 150, 240), (60, 120, 30, 130)],
                         ids=["middle", "upper_right", "lower_left"])
def test_a_tv_cutting_in_a_room_is_one_shot(monkeypatch, box):
    """A TV (10-17 % of the picture) cuts at frames 40 and 85 in a 120-frame shot of a room
    whose own scene moves: the detector alone gives cuts there; with the rule, no boundary."""
    video = _screen(moving_shot(5, 120), box, [40, 85], [11, 12, 13])
    assert {40, 85} & set(_without_rule(monkeypatch, video)), "the detector alone sees no cut on the screen"
    assert _points(video) == []


def test_a_real_cut_between_rooms_with_a_tv_stays(monkeypatch):
    """The TV cuts at frame 30; at frame 70 the camera cuts to another room (its TV elsewhere):
    the real cut stays, the screen's goes."""
    first = _screen(moving_shot(5, 70), (40, 88, 90, 170), [30], [11, 12])
    second = _screen(moving_shot(6, 60), (30, 80, 20, 100), [], [14])
    video = first + second
    assert 30 in _without_rule(monkeypatch, video)
    assert _points(video) == [70]


def _figure(frame: np.ndarray, x: int) -> np.ndarray:
    """A standing person at column ``x``: a head over wider shoulders and a body, legs apart."""
    o = frame.copy()
    o[22:40, x + 8:x + 22] = (60, 80, 200)  # head
    o[40:96, x:x + 30] = (40, 120, 60)  # shoulders and body
    o[96:140, x + 2:x + 11] = (30, 30, 90)  # legs
    o[96:140, x + 19:x + 28] = (30, 30, 90)
    return o


def test_a_jump_cut_that_moves_a_person_stays():
    """A fixed camera's jump cut at frame 50: a person standing at column 40 now stands at
    column 150. The change is two tall, ragged regions: no screen's."""
    room = moving_shot(7, 100)
    video = [_figure(f, 40 if k < 50 else 150) for k, f in enumerate(room)]
    assert _points(video) == [50]


@pytest.mark.parametrize("region", [(0, 80, 0, 120), (10, 130, 100, 150)], ids=["corner", "tall_door"])
def test_a_rectangle_in_a_corner_or_upright_is_no_screen(region):
    """A fixed camera's view whose rectangle at ``region`` changes at frame 30 (a lamp pool
    in a corner; a door opened, taller than wide): :func:`on_screen` says no for both, while
    the same change in a screen's shape and place says yes."""
    room = moving_shot(8, 60)

    def change(r):
        y0, y1, x0, x1 = r
        frames = [f.copy() for f in room]
        for f in frames[30:]:
            f[y0:y1, x0:x1] = 255 - f[y0:y1, x0:x1]
        thumbs = np.stack([thumbnail(f) for f in frames])
        return on_screen(thumbs, 30, picture(thumbs), frozenset({30}))

    assert change((40, 88, 90, 170))
    assert not change(region)


@pytest.mark.parametrize("radius", [18, 25, 35, 45])
def test_a_round_thing_appearing_is_no_screen(radius):
    """A yellow disc (a ball, a clock face) appears at frame 30 in a fixed camera's view, at
    three places: its thumbnail change fits a rectangle well (IoU up to 0.87: the disc's
    rim mixes with the room below the change level), but the rectangle's corners do not
    change, so :func:`on_screen` says no."""
    room = moving_shot(8, 60)
    for centre in ((128, 72), (100, 60), (131, 77)):
        frames = [f.copy() for f in room]
        for f in frames[30:]:
            cv2.circle(f, centre, radius, (30, 200, 230), -1)
        thumbs = np.stack([thumbnail(f) for f in frames])
        assert not on_screen(thumbs, 30, picture(thumbs), frozenset({30})), centre


def test_best_rectangle_finds_the_box_under_noise():
    """A 6x10 rectangle at rows 4-9, columns 12-21 of an 18x32 mask, with 10 stray pixels
    outside it and 3 holes inside: the box is found exactly, IoU = 57 / 70."""
    mask = np.zeros((18, 32), bool)
    mask[4:10, 12:22] = True
    mask[5, 13] = mask[7, 18] = mask[8, 20] = False
    rng = np.random.default_rng(0)
    stray = [(int(y), int(x)) for y, x in zip(rng.integers(12, 18, 30), rng.integers(0, 32, 30))]
    for y, x in sorted(set(stray))[:10]:
        mask[y, x] = True
    box, iou = best_rectangle(mask)
    assert box == (4, 10, 12, 22)
    assert iou == pytest.approx(57 / 70)
    with pytest.raises(ValueError):
        best_rectangle(np.zeros((4, 4), bool))
