"""Robust camera fit, subject motion and timed signal events on frames with exact known motion.

Every input is made here: a textured background (support.synth's scene) seen by a camera
that pans or zooms by a known amount per frame, with an opaque textured object moving in
front of it at a known speed, so the true camera and subject motion are known.
"""

import cv2
import numpy as np
import pytest

from curate.camera import CameraThresholds, camera_segments
from curate.camfit import fit_camera
from curate.caption import CaptionStage
from curate.flow import dense_flow
from curate.score import motion_track
from curate.tasks import ClipTask
from schemas import ClipRecord, ClipVideo, MotionStep, Scores, SourceInfo, Span
from support.movers import with_band, with_object
from support.synth import render

FPS = 4.0
W, H = 224, 128


def _scene(seed, n, pan=(0.0, 0.0), zoom=0.0, exposure=0.0):
    """Background frames ``(n, H, W) uint8``: the camera pans (scene widths/s) or zooms (per s)."""
    frames = []
    for i in range(n):
        img = cv2.cvtColor(render(seed, i / FPS, W, H, pan, zoom, drift=0.0), cv2.COLOR_RGB2GRAY)
        frames.append(np.clip(img.astype(int) + round(exposure * i), 0, 255).astype(np.uint8))
    return np.stack(frames)


def _track(frames, fit="ransac"):
    return motion_track(frames, [i / FPS for i in range(len(frames))], "dis", fit)[0]


def _cameras(track):
    return [s.camera for s in camera_segments(track, len(track) / FPS + 1 / FPS)]


def test_static_camera_with_large_object_moving_right():
    # Object: 40% of the width, 60% of the height, 8 px per frame (0.14 frame widths/s) to the right.
    frames = with_object(_scene(31, 9), 10, 25, 90, 78, 8, 0)
    track = _track(frames)
    assert all(s.pan_x == 0 and s.pan_y == 0 and s.zoom == 0 for s in track)
    segs = camera_segments(track, 2.25)
    assert {s.camera for s in segs} == {"static"}  # (intensity may split it into segments)
    assert {s.subject for s in segs} == {"right"}
    # the object covers 35% of the frame inside the border at any time (98 x 78 px swept per step)
    assert all(0.25 < s.subject_share < 0.55 for s in segs)
    speeds = [s.subject_x for s in track]
    assert np.median(speeds) == pytest.approx(8 * FPS / W, rel=0.25)
    # The least-squares fit over the same flow takes the object for camera motion.
    assert _cameras(_track(frames, "least_squares")) != ["static"]


@pytest.mark.parametrize("pan,label", [((0.12, 0.0), "pan_right"), ((-0.12, 0.0), "pan_left"),
                                       ((0.0, 0.1), "tilt_down"), ((0.0, -0.1), "tilt_up")])
def test_pan_with_object_in_front(pan, label):
    # The object moves against the pan so it is clearly another motion.
    vx = -6 if pan[0] > 0 else 6
    frames = with_object(_scene(32, 9, pan=pan), 70, 30, 60, 50, vx if pan[0] else 0, 0 if pan[0] else 5)
    track = _track(frames)
    assert _cameras(track) == [label]
    # camera moves pan * W px/s over the scene: content moves the other way, frame widths/s
    # (the scene's y unit is the frame height: pan[1] scene units/s = pan[1] * H / W frame widths/s)
    got = np.median([s.pan_x for s in track]) if pan[0] else np.median([s.pan_y for s in track])
    assert got == pytest.approx(-(pan[0] or pan[1] * H / W), rel=0.15)
    assert all(s.confidence >= 0.5 for s in track)


@pytest.mark.parametrize("zoom,label", [(0.25, "zoom_in"), (-0.25, "zoom_out")])
def test_zoom_with_object_in_front(zoom, label):
    frames = with_object(_scene(33, 9, zoom=zoom), 20, 20, 50, 40, 5, 0)
    track = _track(frames)
    assert _cameras(track) == [label]
    # scale changes by exp(zoom / FPS) per interval: (scale - 1) * FPS per second
    assert np.median([s.zoom for s in track]) == pytest.approx((np.exp(zoom / FPS) - 1) * FPS, rel=0.15)


def test_an_object_coming_towards_a_fixed_camera_is_no_zoom():
    """A break test: a textured object growing from a quarter to 40 % of a fixed view (it
    comes closer) read as a zoom in; the picture's edges keep still."""
    back = _scene(35, 13)
    obj = cv2.cvtColor(render(7, 0.0, 200, 110, drift=0.0), cv2.COLOR_RGB2GRAY)
    frames = []
    for i, frame in enumerate(back):
        w = int(round(W * (0.5 + 0.13 * i / 12)))  # width 50 -> 63 % (area 25 -> 40 %)
        h = int(round(w * H / W))
        x0, y0 = (W - w) // 2, (H - h) // 2
        f = frame.copy()
        f[y0:y0 + h, x0:x0 + w] = cv2.resize(obj, (w, h), interpolation=cv2.INTER_AREA)
        frames.append(f)
    track = _track(np.stack(frames))
    assert np.median([s.zoom for s in track]) == 0.0
    assert set(_cameras(track)) <= {"static", "unknown"}  # no zoom (unknown: a step it cannot tell)


def test_exposure_change_is_not_camera_motion():
    # A fixed camera whose exposure drops 6 grey levels per frame while an object enters.
    frames = with_object(_scene(34, 9, exposure=-6.0), 0, 40, 70, 60, 6, 0)
    assert _cameras(_track(frames)) == ["static"]


def test_frame_split_between_motions_gets_no_camera_label():
    # Four quadrants move four ways (a split screen): no single camera motion explains it.
    base = _scene(35, 1)[0]
    frames = []
    for i in range(9):
        f = np.empty_like(base)
        d = 6 * i
        f[:H // 2, :W // 2] = np.roll(base, d, axis=1)[:H // 2, :W // 2]
        f[:H // 2, W // 2:] = np.roll(base, -d, axis=1)[:H // 2, W // 2:]
        f[H // 2:, :W // 2] = np.roll(base, d, axis=0)[H // 2:, :W // 2]
        f[H // 2:, W // 2:] = np.roll(base, -d, axis=0)[H // 2:, W // 2:]
        frames.append(f)
    track = _track(np.stack(frames))
    assert np.median([s.confidence for s in track]) < 0.5
    segs = camera_segments(track, 2.25)
    assert [s.camera for s in segs] == ["unknown"]
    assert segs[0].subject_share > 0.5  # most of the frame moves against any one model


def test_fit_camera_checks_shapes_and_measures_a_shift():
    a = _scene(36, 1)[0]
    b = np.roll(a, 3, axis=1)  # content 3 px to the right
    fit = fit_camera(a, b, dense_flow(a, b))
    assert not fit.static and fit.tx == pytest.approx(3.0, abs=0.3) and abs(fit.ty) < 0.3
    with pytest.raises(ValueError):
        fit_camera(a, b[:, :-2], dense_flow(a, a))


def test_subject_in_place_and_none():
    th = CameraThresholds()
    step = dict(t_s=0.0, pan_x=0.0, pan_y=0.0, zoom=0.0, residual=0.0, magnitude=0.02, luma=100.0,
                confidence=1.0)
    waving = [MotionStep(**{**step, "t_s": i / 4, "subject_share": 0.05, "subject_x": 0.1 * (-1) ** i})
              for i in range(8)]
    assert camera_segments(waving, 2.0, th)[0].subject == "in_place"
    still = [MotionStep(**{**step, "t_s": i / 4}) for i in range(8)]
    assert camera_segments(still, 2.0, th)[0].subject == "none"


def _task(track):
    src = SourceInfo(path="a", source_id="s", size_bytes=1, duration_s=2.25, fps=4, num_frames=9,
                     width=W, height=H, codec="h264")
    span = Span(shot_index=0, start_frame=0, end_frame=9, start_s=0, end_s=2.25)
    rec = ClipRecord(clip_id="c1", source=src, span=span, scores=Scores(), motion_track=track,
                     clip=ClipVideo(num_frames=9, fps=4, width=W, height=H, duration_s=2.25))
    return ClipTask(source=src, span=span, clip_id="c1", work_dir="", record=rec)


def test_signal_caption_has_timed_events_and_subject_words():
    static = with_object(_scene(37, 9), 10, 25, 90, 78, 8, 0)
    cap = CaptionStage()(_task(_track(static))).record.caption
    assert cap.source == "signals"
    segs = camera_segments(_track(static), 2.25)
    assert [(e.start_s, e.end_s) for e in cap.events] == [(s.start_s, s.end_s) for s in segs]
    assert cap.events[0].start_s == 0.0 and cap.events[-1].end_s == 2.25
    for e in cap.events:
        assert e.text.startswith("static camera, ") and "subject moves right (" in e.text
    assert cap.text == "; ".join(f"{e.start_s:.1f}-{e.end_s:.1f} s: {e.text}" for e in cap.events)


def test_old_records_without_fit_fields_parse_and_label():
    old = {"t_s": 0.1, "pan_x": -0.2, "pan_y": 0.0, "zoom": 0.0, "residual": 0.0, "magnitude": 0.2, "luma": 90.0}
    step = MotionStep.model_validate(old)
    assert step.confidence is None and step.subject_share == 0.0
    segs = camera_segments([step] * 4, 1.0)
    assert [s.camera for s in segs] == ["pan_right"] and segs[0].subject == "none"


def _step(i, pan_x=0.0, pan_y=0.0):
    return MotionStep(t_s=(i + 0.5) / FPS, pan_x=pan_x, pan_y=pan_y, zoom=0.0, residual=0.0,
                      magnitude=abs(pan_x) + abs(pan_y), luma=100.0, confidence=0.9)


def test_hand_held_shake_with_no_net_move_is_static():
    # one step each: content right, down, still, left, up, ... (0.25 s steps, 0.08 widths/s)
    moves = [(0.08, 0), (0, 0.08), (0, 0), (-0.08, 0), (0, -0.08), (0, 0)] * 3
    track = [_step(i, *m) for i, m in enumerate(moves)]
    segs = camera_segments(track, len(track) / FPS)
    assert [s.camera for s in segs] == ["static"]
    assert (segs[0].start_s, segs[0].end_s) == (0.0, 4.5)


def test_shake_over_a_pan_keeps_the_pan_and_a_steady_pan_keeps_its_segments():
    shaky = [_step(i, 0.1 + d, e) for i, (d, e) in enumerate([(0.08, 0), (-0.08, 0.08), (0, -0.08)] * 4)]
    assert [s.camera for s in camera_segments(shaky, len(shaky) / FPS)] == ["pan_left"]
    steady = [_step(i, 0.1 if i < 6 else 0.0) for i in range(12)]  # pans 1.5 s, then holds 1.5 s
    segs = camera_segments(steady, len(steady) / FPS)
    assert [s.camera for s in segs] == ["pan_left", "static"] and segs[0].end_s == 1.5


def test_shake_on_two_axes_with_no_net_move_is_static():
    """A break test: steps right, then up, then a small step back (no step back along one
    axis over the threshold) had kept pan and tilt segments; the block's mean does not move."""
    moves = [(0.06, 0), (0, -0.06), (-0.03, 0.03)] * 4
    track = [_step(i, *m) for i, m in enumerate(moves)]
    assert [s.camera for s in camera_segments(track, len(track) / FPS)] == ["static"]


def test_a_diagonal_move_keeps_one_label():
    """A break test: a 45-degree move of equal parts flipped between pan and tilt on noise
    every 0.5-1 s; it keeps the label it started with while the other part stays near."""
    rng = np.random.default_rng(0)
    track = [_step(i, 0.1 + rng.normal(0, 0.01), 0.1 + rng.normal(0, 0.01)) for i in range(13)]
    labels = [s.camera for s in camera_segments(track, len(track) / FPS)]
    assert len(labels) == 1 and labels[0] in ("pan_left", "tilt_up")
    turn = [_step(i, 0.1, 0.0) for i in range(6)] + [_step(i, 0.02, 0.1) for i in range(6, 12)]
    assert [s.camera for s in camera_segments(turn, len(turn) / FPS)] == ["pan_left", "tilt_up"]


@pytest.mark.parametrize("y0,h", [(30, 68), (24, 80)])
def test_a_train_passing_a_fixed_camera_is_no_pan(y0, h):
    """A band across the whole width, 6 of the 8 rows of cells inside the border, moves left
    by 8 px a frame: the moving model clearly wins more cells than the fixed camera, but
    the first and the last row of cells keep still from edge to edge, which a moving camera
    would move (:func:`curate.camrules.still_band`). The same band over a panning scene is
    a pan."""
    frames = with_band(_scene(36, 9), y0, h, 8)
    track = _track(frames)
    assert all(s.pan_x == 0 and s.pan_y == 0 and s.zoom == 0 for s in track)
    assert all(s.confidence >= 0.5 for s in track)
    segs = camera_segments(track, 2.25)
    assert {s.camera for s in segs} == {"static"} and {s.subject for s in segs} == {"left"}
    assert _cameras(_track(with_band(_scene(36, 9, pan=(0.12, 0.0)), y0, h, 8))) == ["pan_right"]


def test_a_pan_keeps_its_label_with_a_still_subject_or_a_still_bar_at_one_edge():
    """A tracking shot (the subject still in the frame, the room panning behind it) and pans
    and tilts under a still bar across the bottom 40 % (a broadcast lower third, a car's
    dashboard: three rows of cells, at one edge only) are camera moves."""
    pan = _scene(37, 9, pan=(0.12, 0.0))
    assert _cameras(_track(with_object(pan, 80, 35, 64, 56, 0, 0))) == ["pan_right"]
    for move, label in (((0.12, 0.0), "pan_right"), ((0.0, 0.1), "tilt_down")):
        bar = _scene(37, 9, pan=move)
        bar[:, H - 52:] = _scene(38, 1)[0][H - 52:]
        assert _cameras(_track(bar)) == [label]


def _jitter_track(positions):
    """Steps of a hand-held camera at these (x, y) positions in pixels of a 228-px-wide frame."""
    p = np.asarray(positions, float) / 228 * FPS
    return [_step(i, *(p[i + 1] - p[i])) for i in range(len(p) - 1)]


def test_hand_held_jitter_of_a_few_pixels_is_static():
    """A break test: i.i.d. jitter of up to 4 px (the positions below) gave 0.5-1.25 s pan
    and tilt segments and a clip-wide ``tilt_up``; every step that moves has steps moving
    back on both sides and the camera goes nowhere."""
    positions = [(0, 0), (3, -2), (0, 2), (-2, -1), (2, 0), (-1, 3), (1, -2), (-2, 1), (2, 2),
                 (-1, -2), (2, 1), (-2, 0), (1, -3), (0, 1)]
    assert {s.camera for s in camera_segments(_jitter_track(positions), 13 / FPS)} == {"static"}


def test_a_pan_that_turns_back_keeps_both_moves():
    track = [_step(i, 0.1) for i in range(6)] + [_step(i, -0.1) for i in range(6, 12)]
    segs = camera_segments(track, len(track) / FPS)
    assert [s.camera for s in segs] == ["pan_left", "pan_right"] and segs[0].end_s == 1.5
