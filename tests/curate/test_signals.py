"""Scores, camera-motion labels and signal captions on frames with known motion."""

import cv2
import numpy as np
import pytest

from curate.camera import camera_segments
from curate.caption import CaptionStage, describe
from curate.score import luma, motion_track, sharpness
from curate.filter import FilterStage
from curate.tasks import ClipTask
from schemas import ClipRecord, ClipVideo, Scores, SourceInfo, Span
from support.synth import render

FPS = 4.0


def _gray(seed, n, pan=(0.0, 0.0), zoom=0.0, drift=0.0):
    frames = [cv2.cvtColor(render(seed, i / FPS, 160, 120, pan, zoom, drift), cv2.COLOR_RGB2GRAY) for i in range(n)]
    return np.stack(frames), [i / FPS for i in range(n)]


@pytest.mark.parametrize("pan,zoom,label", [
    ((0.0, 0.0), 0.0, "static"),
    ((0.15, 0.0), 0.0, "pan_right"),
    ((-0.15, 0.0), 0.0, "pan_left"),
    ((0.0, 0.12), 0.0, "tilt_down"),
    ((0.0, -0.12), 0.0, "tilt_up"),
    ((0.0, 0.0), 0.25, "zoom_in"),
    ((0.0, 0.0), -0.25, "zoom_out"),
])
def test_camera_motion_label(pan, zoom, label):
    frames, times = _gray(21, 9, pan, zoom)
    track, _ = motion_track(frames, times, "dis")
    segs = camera_segments(track, 2.0)
    assert [s.camera for s in segs] == [label]
    assert segs[0].start_s == 0.0 and segs[-1].end_s == 2.0


def test_pan_speed_is_measured_in_frame_widths_per_second():
    frames, times = _gray(22, 5, pan=(0.1, 0.0))
    track, mags = motion_track(frames, times, "dis")
    # The camera moves 0.1 scene widths per second = 0.1 frame widths per second.
    assert np.median([s.pan_x for s in track]) == pytest.approx(-0.1, rel=0.25)
    assert np.mean(mags) == pytest.approx(0.1, rel=0.3)


def test_static_then_pan_gives_two_ordered_segments():
    a, _ = _gray(23, 9)
    b = np.stack([cv2.cvtColor(render(23, 0, 160, 120, (-0.2, 0.0), 0.0, 0.0) if i == 0 else
                               render(23, i / FPS, 160, 120, (-0.2, 0.0), 0.0, 0.0), cv2.COLOR_RGB2GRAY)
                  for i in range(1, 9)])
    frames = np.concatenate([a, b])
    times = [i / FPS for i in range(len(frames))]
    track, _ = motion_track(frames, times, "farneback")
    segs = camera_segments(track, times[-1] + 1 / FPS)
    assert [s.camera for s in segs] == ["static", "pan_left"]
    assert segs[0].end_s == segs[1].start_s == pytest.approx(2.0, abs=0.26)
    text = describe(segs)
    assert text.startswith("0.0-") and "static camera" in text and "camera pans left" in text
    assert text.index("static camera") < text.index("camera pans left")


def test_brightness_change_is_reported():
    frames, times = _gray(24, 9)
    frames = np.stack([np.clip(f.astype(int) + 8 * i, 0, 255).astype(np.uint8) for i, f in enumerate(frames)])
    track, _ = motion_track(frames, times, "farneback")
    assert camera_segments(track, 2.25)[0].brightness == "brightens"


def test_sharpness_drops_with_blur_and_luma_is_bt601():
    img = render(25, 0, 224, 168)
    img[::16] = 255  # hard edges
    blurred = cv2.GaussianBlur(img, (0, 0), 3)
    assert sharpness(img[None]) > 4 * sharpness(blurred[None])
    red = np.zeros((1, 4, 4, 3), np.uint8)
    red[..., 0] = 255
    assert luma(red)[0] == pytest.approx(0.299 * 255)


def _task(scores: Scores, track=()):
    src = SourceInfo(path="a", source_id="s", size_bytes=1, duration_s=3, fps=25, num_frames=75,
                     width=64, height=64, codec="h264")
    rec = ClipRecord(clip_id="c1", source=src, span=Span(shot_index=0, start_frame=0, end_frame=75,
                     start_s=0, end_s=3), clip=ClipVideo(num_frames=75, fps=25, width=64, height=64,
                     duration_s=3.0), scores=scores, motion_track=list(track))
    return ClipTask(source=src, span=rec.span, clip_id="c1", work_dir="", record=rec)


@pytest.mark.parametrize("scores,reason", [
    (Scores(motion=0.001, sharpness=50, luma_mean=100, black_fraction=0), "low_motion"),
    (Scores(motion=0.1, sharpness=1, luma_mean=100, black_fraction=0), "blurry"),
    (Scores(motion=0.1, sharpness=50, luma_mean=3, black_fraction=0), "too_dark"),
    (Scores(motion=0.1, sharpness=50, luma_mean=100, black_fraction=0.9), "black_frames"),
    (Scores(motion=0.1, sharpness=50, luma_mean=100, black_fraction=0), None),
])
def test_filter_reasons_keep_scores(scores, reason):
    stage = FilterStage(min_motion=0.01, min_sharpness=5, min_luma=10, max_black_fraction=0.5)
    task = stage(_task(scores))
    assert (task.reject_row.reason if task.reject_row else None) == reason
    if reason:
        assert task.reject_row.scores == scores and task.reject_row.stage == "filter"


def test_signals_caption_is_marked_as_signals():
    task = CaptionStage()(_task(Scores()))
    assert task.record.caption.source == "signals"
    assert task.record.caption.text == "0.0-3.0 s: static camera, almost no motion"


def test_a_dim_night_shot_is_no_black_frame_and_a_fade_hold_is():
    """A break test: a dark clip (mean luma 10.7, over the filter's min_luma 10) whose lit
    parts were over black_luma was dropped as black_frames, whatever min_luma said."""
    from curate.score import black_frames

    frames, _ = _gray(26, 8)
    night = (frames.astype(np.float32) * 0.06).astype(np.uint8)  # levels 0-15
    night[:, 40:52, 30:40] = 200  # a lit window: 1.25 % of the picture
    night[:, 90:100, 100:130] = 90  # a street light's pool: 1.6 %
    assert all(f.mean() < 20 for f in night)
    fade = night.copy()
    fade[5:] = 16  # the fade's black hold in the last three frames
    fade[4] = (night[4] * 0.3).astype(np.uint8) + 14  # mid-fade: dark, lights at about 74
    assert black_frames(night, night.reshape(8, -1).mean(axis=1), 20).tolist() == [False] * 8
    assert black_frames(fade, fade.reshape(8, -1).mean(axis=1), 20).tolist() == [False] * 5 + [True] * 3
    moon = np.full((1, 120, 160), 12, np.uint8)
    moon[0, :4, :] = 250  # 3.3 % at 250: a mean of 19.9, but lit; the mean alone had read it as black
    assert moon.mean() < 20 and not black_frames(moon, moon.reshape(1, -1).mean(axis=1), 20)[0]
