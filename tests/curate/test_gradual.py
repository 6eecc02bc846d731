"""Streaming shot analysis: the incremental dissolve scan, the fast content score, the preview."""

import numpy as np
import pytest
from scenedetect.detectors import content_detector

from curate.split import fastscore
from curate.split.gradual import GradualScan, ThumbBuffer
from curate.split.shots import ShotDetector
from curate.split.transitions import find_gradual, thumbnail


def _edit(seed: int, n: int = 700):
    """(n, 18, 32, 3) uint8 thumbnails: random pictures held 36 frames, then dissolved
    into the next over 24 frames, with noise; dissolves start at frame 36 + 60 k."""
    rng = np.random.default_rng(seed)
    pics = [rng.integers(0, 256, (18, 32, 3)).astype(np.float32) for _ in range(n // 60 + 2)]
    out = []
    for i in range(n):
        k, t = divmod(i, 60)
        mix = max(0.0, (t - 36) / 24)
        x = pics[k] + mix * (pics[k + 1] - pics[k]) + rng.normal(0, 2, (18, 32, 3))
        out.append(np.clip(x, 0, 255).astype(np.uint8))
    return np.stack(out)


@pytest.mark.parametrize("seed,every", [(0, 32), (1, 7), (2, 100)])
def test_gradual_scan_gives_find_gradual_s_intervals(seed, every):
    thumbs, lengths = _edit(seed), [7, 15, 30, 60]
    truth = find_gradual(thumbs, lengths)
    assert len(truth) == 11 and all(36 <= s % 60 <= 40 and (e % 60 >= 56 or e % 60 <= 1) for s, e in truth)
    scan = GradualScan(lengths)
    for n in range(0, len(thumbs), every):
        scan.scan(thumbs[:n])
        judged = scan.intervals()
        assert all(e <= n for _, e in judged)  # only windows whose frames are in
    assert scan.result(thumbs) == truth


def test_thumb_buffer_grows_and_keeps_every_thumbnail():
    buf, rng = ThumbBuffer(capacity=2), np.random.default_rng(3)
    thumbs = rng.integers(0, 256, (9, 18, 32, 3), dtype=np.uint8)
    for t in thumbs:
        buf.append(t)
    np.testing.assert_array_equal(buf.view(), thumbs)
    assert len(buf) == 9
    with pytest.raises(ValueError, match="differs"):
        buf.append(np.zeros((8, 32, 3), np.uint8))


def test_fast_content_score_is_pyscenedetect_s_exactly():
    rng = np.random.default_rng(4)
    for shape in [(144, 256), (1, 1), (37, 53)]:
        a, b = (rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(2))
        assert fastscore.mean_pixel_distance(a, b) == fastscore._original(a, b)
    a = np.zeros((10, 10), np.uint8)
    b = np.full((10, 10), 255, np.uint8)
    assert fastscore.mean_pixel_distance(a, b) == 255.0 == fastscore._original(b, a)
    assert content_detector._mean_pixel_distance is fastscore.mean_pixel_distance  # installed by shots


def test_fade_detector_reads_numpy_s_exact_frame_mean_and_finds_the_same_fades():
    """FrameMean gives ThresholdDetector numpy.mean's value bit for bit, and a fade out to
    black and back in (frames 20-29 dark) is cut at the same frame with and without it."""
    from scenedetect import FrameTimecode, ThresholdDetector

    rng = np.random.default_rng(6)
    held = fastscore.FrameMean()
    for shape in [(144, 256, 3), (1, 1, 3), (37, 53, 3), (9, 7, 4), (5, 5)]:
        frame = rng.integers(0, 256, shape, dtype=np.uint8)
        held.put(frame)
        assert held.get_metrics(None, None) == [np.mean(frame)]
    levels = [120] * 20 + [4] * 10 + [130] * 20
    frames = [np.clip(rng.normal(v, 3, (72, 128, 3)), 0, 255).astype(np.uint8) for v in levels]
    cuts = []
    for fast in (False, True):
        det = ThresholdDetector(threshold=12.0, min_scene_len=1, fade_bias=0.0, add_final_scene=False)
        if fast:
            det.stats_manager = held
        found = []
        for i, f in enumerate(frames):
            held.put(f)
            found += [c.frame_num for c in det.process_frame(FrameTimecode(i, 25.0), f)]
        cuts.append(found)
    assert cuts[0] == cuts[1] == [25]


def _frames(n_shots: int = 4, length: int = 50):
    """(H, W, 3) uint8 BGR frames: textured shots with a slow drift, hard cuts every ``length``."""
    rng = np.random.default_rng(5)
    out = []
    for k in range(n_shots):
        base = cv_blur(rng.integers(0, 256, (100, 160, 3)).astype(np.uint8))
        for i in range(length):
            out.append(np.roll(base, i // 5, axis=1))
    return out


def cv_blur(img):
    import cv2
    return cv2.GaussianBlur(img, (9, 9), 3)


def test_preview_far_from_its_edges_is_the_final_boundaries():
    det = ShotDetector(25.0, min_shot_s=0.5)
    for i, frame in enumerate(_frames()):
        det.feed(frame)
        if i == 160:  # 161 frames in: the cuts at 50 and 100 are settled, 150 is 10 frames old
            early = det.preview(0)
    final = det.boundaries()
    assert final.cuts == [50, 100, 150] and final.gaps == []
    assert early.cuts[:2] == [50, 100]
    assert det.preview(60).cuts == [100, 150]  # a window from frame 60 on
    assert thumbnail(_frames(1, 1)[0]).shape == (20, 32, 3)
