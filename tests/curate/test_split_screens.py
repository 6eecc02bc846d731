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

import curate.split.screens as screens
import curate.split.shots as shots
from curate.split.overlays import picture
from curate.split.screens import best_rectangle, on_screen
from curate.split.transitions import thumbnail
from support.graphics import FPS, moving_shot
from support.synth import detect_frames, render


def _screen(room: list[np.ndarray], box: tuple[int, int, int, int], cuts: list[int], seeds: list[int]):
    """``room`` with a TV at ``box`` (y0, y1, x0, x1 pixels; a 3-pixel dark bezel around it,
    inside the frame) showing scene ``seeds[i]`` (moving) from ``cuts[i - 1]`` on."""
    y0, y1, x0, x1 = box
    out = []
    for k, f in enumerate(room):
        o = f.copy()
        o[max(y0 - 3, 0):y1 + 3, max(x0 - 3, 0):x1 + 3] = (20, 20, 24)
        seed = seeds[sum(k >= c for c in cuts)]
        o[y0:y1, x0:x1] = render(seed, k / FPS, x1 - x0, y1 - y0, drift=0.2)[..., ::-1]
        out.append(o)
    return out


def _points(frames: list[np.ndarray]) -> list[int]:
    return detect_frames(frames, FPS)[0].points()


def _without_rule(monkeypatch, frames: list[np.ndarray]) -> list[int]:
    with monkeypatch.context() as m:
        m.setattr(shots, "drop_screen_cuts", lambda cuts, *args: list(cuts))
        return _points(frames)


@pytest.mark.parametrize("box", [(40, 88, 90, 170), (20, 74, 150, 240), (60, 120, 30, 130)],
                         ids=["middle", "upper_right", "lower_left"])
def test_a_tv_cutting_in_a_room_is_one_shot(monkeypatch, box):
    """A TV (10-17 % of the picture) cuts at frames 40 and 85 in a 120-frame shot of a room
    whose own scene moves: the detector alone gives a cut there; with the rule, no boundary."""
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


def _judge(frames: list[np.ndarray], cut: int) -> bool:
    thumbs = np.stack([thumbnail(f) for f in frames])
    return on_screen(thumbs, cut, picture(thumbs), frozenset({cut}))


def _still_room(n: int) -> list[np.ndarray]:
    """A locked-off camera on a still room: one picture, sensor noise of 2 levels."""
    rng = np.random.default_rng(3)
    room = render(9, 0.0, 256, 144, drift=0.0)[..., ::-1].astype(np.float32)
    return [np.clip(room + rng.normal(0, 2, room.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def test_a_tv_in_a_still_room_is_one_shot(monkeypatch):
    """Nothing but the TV moves (an interview set, a news desk): the still room is no
    "picture" to the overlay rule (it never changes), but it is what goes on around the
    screen. The TV's cuts at 40 and 85 are dropped."""
    video = _screen(_still_room(120), (40, 88, 90, 170), [40, 85], [11, 12, 13])
    assert {40, 85} & set(_without_rule(monkeypatch, video))
    assert _points(video) == []


def test_a_tv_lighting_the_room_is_one_shot(monkeypatch):
    """The room's brightness follows the TV's picture (up to 8 % either way): outside the
    screen every pixel changes at its cuts, which a gain and offset per channel explain.
    Judged on the plain change instead, the cuts stay."""
    room = moving_shot(5, 120)
    video = []
    for k, f in enumerate(room):
        seed = [11, 12, 13][(k >= 40) + (k >= 85)]
        pic = render(seed, k / FPS, 80, 48, drift=0.2)[..., ::-1]
        o = np.clip(f.astype(np.float32) * (1 + 0.1 * (pic.mean() / 128.0 - 1)), 0, 255).astype(np.uint8)
        o[37:91, 87:173] = (20, 20, 24)
        o[40:88, 90:170] = pic
        video.append(o)
    assert _points(video) == []
    monkeypatch.setattr(screens, "relit", lambda before, after, seen: before.astype(np.float32))
    assert {40, 85} <= set(_points(video))


def _changed(region, fill, cut: int = 30, n: int = 60, room=None) -> list[np.ndarray]:
    """``room`` (a moving room by default) where the pixels of ``region`` (a (y0, y1, x0,
    x1) box, or a boolean mask) become ``fill(frame_index)`` from frame ``cut`` on."""
    frames = [f.copy() for f in (room or moving_shot(8, n))]
    mask = np.zeros(frames[0].shape[:2], bool)
    if isinstance(region, tuple):
        mask[region[0]:region[1], region[2]:region[3]] = True
    else:
        mask = region
    for k in range(cut, len(frames)):
        frames[k][mask] = fill(k)[mask]
    return frames


def _other(k: int) -> np.ndarray:
    return render(21, k / FPS, 256, 144, drift=0.2)[..., ::-1]


@pytest.mark.parametrize("name,region,constant,loosened", [
    ("flat_panel", (40, 88, 80, 176), "MIN_DETAIL", 0.0),
    ("corner_tv", (0, 56, 0, 96), "MAX_EDGES", 2),
    ("big_tv", (16, 128, 24, 232), "MAX_SHARE", 1.0),
    ("strip", (48, 84, 8, 248), "ASPECT", (1.1, 99.0)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_rectangle_that_is_no_screen_stays(monkeypatch, name, region, constant, loosened):
    """A rectangle changes at frame 30 in a moving room: a flat grey 16:9 panel brought in
    (no picture inside), a picture in the top-left corner (two edges of the frame), one over
    most of the view (63 %), a strip six times wider than tall. Each is no screen;
    with the one test that rejects it loosened, it is."""
    fill = (lambda k: np.full((144, 256, 3), 128, np.uint8)) if name == "flat_panel" else _other
    frames = _changed(region, fill)
    assert not _judge(frames, 30)
    monkeypatch.setattr(screens, constant, loosened)
    assert _judge(frames, 30)


@pytest.mark.parametrize("region", [(0, 56, 80, 176), (90, 144, 60, 170), (40, 96, 0, 80)],
                         ids=["top", "bottom", "left"])
def test_a_tv_cut_off_by_the_frame_is_a_screen(monkeypatch, region):
    """A TV whose picture the top, bottom or left of the frame cuts off changes at frame 30:
    a screen; kept off every edge as before (``MAX_EDGES`` 0), it is not judged."""
    frames = _changed(region, _other)
    assert _judge(frames, 30)
    monkeypatch.setattr(screens, "MAX_EDGES", 0)
    assert not _judge(frames, 30)


def test_a_tv_cut_off_by_the_top_cutting_in_a_room_is_one_shot(monkeypatch):
    """A TV cut off by the top of the frame (rows 0-56, 14 % of the picture) cuts at frames 40
    and 85 in a moving room: the detector alone gives a cut there; with the rule, none."""
    video = _screen(moving_shot(5, 120), (0, 56, 80, 176), [40, 85], [11, 12, 13])
    assert {40, 85} & set(_without_rule(monkeypatch, video))
    assert _points(video) == []


@pytest.mark.parametrize("shape", ["head_from_top", "round_from_bottom"])
def test_a_round_thing_coming_in_from_an_edge_is_no_screen(monkeypatch, shape):
    """At a jump cut a head comes into view from the top (an ellipse of 52 x 68 pixels whose
    top the frame cuts off), or a round thing from the bottom: the changed pixels fill their
    best rectangle within a pixel of its edge, but the two corners away from the frame's edge
    do not change. Judged on all four corners (the two at the frame's edge change with the
    row along it), each would pass as a screen."""
    mask = np.zeros((144, 256), np.uint8)
    if shape == "head_from_top":
        cv2.ellipse(mask, (128, 10), (26, 34), 0, 0, 360, 1, -1)
    else:
        cv2.ellipse(mask, (128, 144), (60, 50), 0, 0, 360, 1, -1)
    frames = _changed(mask.astype(bool), _other)
    assert not _judge(frames, 30)
    corners = screens._corners
    monkeypatch.setattr(screens, "_corners", lambda step, cut_off=(): corners(step))
    assert _judge(frames, 30)


def test_a_tv_cut_as_the_room_changes_stays(monkeypatch):
    """The TV cuts at frame 30 as the whole room changes a little too: from then on 9 % of
    another scene shows through (a cut to a like-looking place; few pixels outside the TV
    change by the change level). Outside the screen the picture changes more than three
    times as much as from frame to frame, after a gain and offset (3.8 times), so the cut
    stays; with that test off it would go."""
    room = [f.astype(np.float32) for f in moving_shot(8, 60)]
    other = render(33, 0.0, 256, 144, drift=0.0)[..., ::-1].astype(np.float32)
    view = [(f if k < 30 else 0.91 * f + 0.09 * other).astype(np.uint8) for k, f in enumerate(room)]
    frames = _changed((40, 88, 80, 176), _other, room=view)
    assert not _judge(frames, 30)
    monkeypatch.setattr(screens, "OUTSIDE_RATIO", 1000.0)
    assert _judge(frames, 30)


def test_an_oval_thing_appearing_is_no_screen(monkeypatch):
    """A textured oval (a plate or a mirror seen at an angle, 96 x 56 pixels) appears at
    frame 30: it is wider than tall, shows a picture and fits its best rectangle well, but
    the rectangle's corners do not change as its edges predict (:func:`_corners`). With
    that test off it would pass as a screen."""
    mask = np.zeros((144, 256), np.uint8)
    cv2.ellipse(mask, (128, 70), (48, 28), 0, 0, 360, 1, -1)
    frames = _changed(mask.astype(bool), _other)
    assert not _judge(frames, 30)
    monkeypatch.setattr(screens, "MIN_CORNERS", 0.0)
    assert _judge(frames, 30)


def test_a_slideshow_of_stills_on_a_template_stays(monkeypatch):
    """Photographs shown one after another in a box on a still template (a diagonal colour
    ramp, a title): the box is screen-shaped and the template goes on, but nothing moves
    between the changes, so each change stays a cut (a slideshow's shot boundary). Without
    the motion test it would pass as a screen."""
    yy, xx = np.mgrid[0:144, 0:256].astype(np.float32)
    template = np.stack([60 + 0.3 * xx + 0.2 * yy, 90 + 0.2 * xx, 120 - 0.2 * yy], axis=2).astype(np.uint8)
    cv2.putText(template, "MY HOLIDAY", (20, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    template = template.astype(np.float32)
    rng = np.random.default_rng(4)
    room = [np.clip(template + rng.normal(0, 1, template.shape), 0, 255).astype(np.uint8) for _ in range(60)]
    photos = [render(seed, 0.0, 256, 144, drift=0.0)[..., ::-1] for seed in (41, 42)]
    frames = _changed((48, 120, 40, 168), lambda k: photos[1], room=room)
    for f in frames[:30]:
        f[48:120, 40:168] = photos[0][48:120, 40:168]
    assert not _judge(frames, 30)
    monkeypatch.setattr(screens, "MIN_MOVING", 0.0)
    assert _judge(frames, 30)


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
