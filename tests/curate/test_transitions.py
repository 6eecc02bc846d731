"""Shot boundaries on gradual transitions and flashes: dissolves, fades to black and white, flashes.

Synthetic footage from :mod:`support.transitions` (exact truth), split with the same
:class:`curate.split.SplitStage` the pipeline runs. Each case also runs with the new
handling switched off, to show the footage really fools PySceneDetect alone.
"""

import numpy as np
import pytest

from curate.split import flashes
from curate.split.flashes import drop_flashes, is_flash
from curate.probe import ProbeStage
from curate.split.shots import resolve
from curate.split.spans import plan_spans, shot_ranges
from curate.split import SplitStage
from curate.tasks import SourceTask
from curate.split.transitions import find_gradual, thumbnail
from support.synth import render
from support.transitions import dissolve_video, fade_video, flash_video

W, H, FPS = 160, 120, 25.0


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """{name: (path, truth interval)} for a dissolve, two fades and a flash."""
    root = tmp_path_factory.mktemp("transitions")
    out = {"dissolve": (str(root / "dissolve.mp4"),), "black": (str(root / "black.mp4"),),
           "white": (str(root / "white.mp4"),), "flash": (str(root / "flash.mp4"),)}
    out["dissolve"] += (dissolve_video(out["dissolve"][0], 31, 32, 45, 25, 45, W, H, FPS,
                                       pan_a=(0.05, 0.0), pan_b=(0.0, 0.04)),)
    out["black"] += (fade_video(out["black"][0], 33, 34, 40, 15, 4, 15, 40, 0, W, H, FPS),)
    out["white"] += (fade_video(out["white"][0], 35, 35, 40, 20, 0, 20, 40, 255, W, H, FPS),)
    out["flash"] += (flash_video(out["flash"][0], 36, 90, 44, 2, 255, W, H, FPS),)
    return out


def _spans(path, **cfg):
    task = ProbeStage()(SourceTask(path=path, work_dir=""))
    task = SplitStage(min_clip_s=1.0, max_clip_s=10.0, **cfg)(task)
    return [(s.start_frame, s.end_frame) for s in task.spans]


def _no_clip_crosses(spans, start, end, slack=2):
    """No span holds frames from before and after the transition; at most ``slack`` frames of
    a span lie inside it (the first and last frames of a mix are within 4 % of pure)."""
    mid = (start + end) / 2
    assert any(z <= mid for _, z in spans) and any(a >= mid for a, _ in spans), spans
    for a, z in spans:
        assert z <= mid or a >= mid, f"span {(a, z)} holds both sides of {(start, end)}"
        assert min(z, end) - max(a, start) <= slack, f"span {(a, z)} holds the transition {(start, end)}"


@pytest.mark.parametrize("name", ["dissolve", "black", "white"])
def test_gradual_transition_goes_to_no_clip(clips, name):
    path, (start, end) = clips[name]
    _no_clip_crosses(_spans(path, detector="adaptive"), start, end)


def test_dissolve_holds_both_shots_without_gradual_detection(clips):
    path, (start, end) = clips["dissolve"]
    spans = _spans(path, gradual=False)
    assert any(a < start and z > end for a, z in spans), spans  # PySceneDetect alone misses it


def test_content_detector_also_handles_fades(clips):
    path, (start, end) = clips["white"]
    _no_clip_crosses(_spans(path, detector="content"), start, end)


def test_white_flash_in_a_static_shot_is_no_boundary(clips):
    path, _ = clips["flash"]
    assert _spans(path) == [(0, 90)]


def test_white_flash_splits_without_the_flash_filter(clips):
    path, (start, _) = clips["flash"]
    spans = _spans(path, flash_s=0.0, blank_std=None)
    assert len(spans) == 2 and abs(spans[1][0] - start) <= 2, spans


def _thumbs(frames):
    return np.stack([thumbnail(f[..., ::-1]) for f in frames])


def test_insert_of_other_content_is_not_a_flash():
    scene = [render(41, i / FPS, 64, 48) for i in range(20)]
    other = render(42, 0.0, 64, 48)
    frames = scene[:8] + [other, other] + scene[10:]
    thumbs = _thumbs(frames)
    assert not is_flash(thumbs, 8, max_len=6)
    white = scene[:8] + [np.full_like(other, 255)] * 2 + scene[10:]
    assert drop_flashes([8, 10], _thumbs(white), max_len=6) == []


def test_a_partial_flash_that_starts_over_three_frames_is_a_flash():
    """A break test of a rule since taken back (a flash's way back had to follow a sudden
    way out or light most of the view): a lamp lighting the left third of the view over
    three frames (0.2, 0.5, then full), on for four, then off at once, made the way back a
    false cut."""
    scene = [render(41, i / FPS, 64, 48) for i in range(16)]

    def lit(frame, gain):
        out = frame.astype(np.float32)
        out[:, :22] += gain * (1.2 * out[:, :22] + 70)
        return np.clip(out, 0, 255).astype(np.uint8)
    lamp = [lit(f, {3: 0.2, 4: 0.5}.get(k, 1.0)) if 3 <= k < 9 else f for k, f in enumerate(scene)]
    assert is_flash(_thumbs(lamp), 9, max_len=6)


def test_camera_pan_and_exposure_drift_are_no_transition():
    pan = [render(43, i / FPS, 64, 48, pan=(0.3, 0.0)) for i in range(60)]
    gain = [np.clip(render(44, i / FPS, 64, 48) * (0.6 + i / 100), 0, 255).astype(np.uint8) for i in range(60)]
    assert find_gradual(_thumbs(pan), [6, 12, 25, 50]) == []
    assert find_gradual(_thumbs(gain), [6, 12, 25, 50]) == []


def test_gaps_absorb_nearby_cuts_and_split_shots():
    b = resolve([20, 48, 90], [(50, 70)], snap=3)
    assert b.cuts == [20, 90] and b.gaps == [(48, 70)]
    assert shot_ranges(b.cuts, b.gaps, 120) == [(0, 20), (20, 48), (70, 90), (90, 120)]
    times = [i / 25 for i in range(120)]
    kept, short = plan_spans([], times, 4.8, min_clip_s=1.0, max_clip_s=10.0, trim_s=0.08, gaps=[(50, 70)])
    assert [(s.start_frame, s.end_frame) for s in kept] == [(0, 48), (72, 120)]
    assert short == []


def test_one_black_or_white_frame_between_two_shots_is_no_flash():
    """A single black (or white) frame between two different shots: the jump into it is so
    large that the pictures either side (38 levels apart on a break test's street and
    hand-held shots) passed the flash ratio, and the cut was lost. The two are not one
    picture at the shots' own pace (:func:`curate.split.flashes.same_picture`), so the cut
    stays; the same frame inside one moving shot is still a flash."""
    a = [render(43, i / FPS, 64, 48) for i in range(12)]
    b = [render(44, i / FPS, 64, 48) for i in range(12)]
    for level in (0, 255):
        card = [np.full_like(a[0], level)]
        thumbs = _thumbs(a[:8] + card + b[:8])
        assert not is_flash(thumbs, 8, max_len=6) and not is_flash(thumbs, 9, max_len=6)
        assert drop_flashes([8, 9], thumbs, max_len=6) == [8, 9]
        inside = _thumbs(a[:8] + card + a[9:])
        assert drop_flashes([8, 9], inside, max_len=6) == []


def test_a_flash_while_the_camera_jolts_is_still_a_flash():
    """A still view that jolts sideways by 6 % of its width while one white frame hides it:
    the frames either side are one picture once the shift is undone
    (:func:`curate.split.flashes._moved_dist`), so the flash's cuts are dropped; as they
    are, the two frames differ by far more than the still view's own pace."""
    scene = render(45, 0.0, 128, 72)
    moved = np.roll(scene, 8, axis=1)
    frames = [scene] * 8 + [np.full_like(scene, 255)] + [moved] * 8
    thumbs = _thumbs(frames)
    assert flashes._dist(thumbs[7], thumbs[9]) > 3 * flashes.SAME_FLOOR
    assert drop_flashes([8, 9], thumbs, max_len=6) == []
