"""A dissolve between two moving shots: its pixels mix less uniformly, yet it is one gap.

Step 4 of :mod:`curate.split.transitions` (coherence) asks that the pixels changed between
a window's ends be mixed about as far as their frame. Where both shots move during the
dissolve (camera pans, people signing, traffic), the ends are not the pictures being mixed
and the share falls: on the labelled sets of ``bench/split_accuracy.py`` 9 of 420 dissolve
and fade intervals came to 0.60-0.80, and 4 dissolves of the tuning split were missed at
the former limit of 0.8 (2026-12-07). Windows that pass steps 1-3 without being a
transition came to 0.46-0.51 there (hands reaching into a fixed view of bottles while the
light changes, ``bottle-detection.mp4``); the limit is 0.7 now.

The fixture: two synthetic scenes, each filmed hand-held (every frame shifted by up to 5
pixels of 256 either way, each shot on its own), dissolved over 12 frames, encoded with
x264 and decoded through the split stage's PyAV path (truth: one gap over the dissolve, no
cut). No window over it reaches 0.8.
"""

import numpy as np
import pytest

from curate.codec import iter_frames
from curate.split import SplitStage
from curate.split.mixfit import coherence
from curate.split.transitions import BlendTest, fit_blend, spatial_var, thumbnail
from support.synth import render, write_video

W, H, FPS = 256, 144, 25.0
DISSOLVE = (40, 52)  # frames of the mix, half-open


SHAKE = 5  # pixels: the largest shift of a frame either way


def _handheld_dissolve(n: int = 90) -> list[np.ndarray]:
    start, end = DISSOLVE
    rng = np.random.default_rng(3)
    out = []
    for i in range(n):
        shots = []
        for scene in (81, 82):
            big = render(scene, i / FPS, W + 2 * SHAKE, H + 2 * SHAKE).astype(np.float32)
            dx, dy = rng.integers(0, 2 * SHAKE + 1, 2)
            shots.append(big[dy:dy + H, dx:dx + W])
        w = min(max((i - start + 1) / (end - start + 1), 0.0), 1.0)
        out.append(np.clip(np.rint((1 - w) * shots[0] + w * shots[1]), 0, 255).astype(np.uint8))
    return out


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("moving-dissolve") / "dissolve.mp4")
    write_video(path, _handheld_dissolve(), FPS)
    return path


def test_dissolve_between_hand_held_shots_is_one_gap(video):
    det = SplitStage(detector="adaptive").shot_detector(FPS)
    for frame in iter_frames(video, size=(W, H), fmt="bgr24"):
        det.feed(frame.image)
    b = det.boundaries()
    assert b.cuts == []
    assert len(b.gaps) == 1
    start, end = b.gaps[0]
    assert abs(start - DISSOLVE[0]) <= 2 and abs(end - DISSOLVE[1]) <= 2, b.gaps


def test_no_window_over_the_hand_held_dissolve_reaches_the_former_limit(video):
    """The fixture's property: windows over the dissolve pass steps 1-3, and the most
    coherent of them lies between the limit (0.7) and the former one (0.8), so at 0.8 the
    test above fails (no gap)."""
    thumbs = np.stack([thumbnail(f.image) for f in iter_frames(video, size=(W, H), fmt="bgr24")])
    var, test, best = spatial_var(thumbs), BlendTest(), 0.0
    for length in (3, 6, 12, 25):
        for a in range(DISSOLVE[0] - length - 2, DISSOLVE[1] + 2):
            if test.check(thumbs, var, a, a + length) is not None:
                t, _ = fit_blend(thumbs, a, a + length)
                best = max(best, coherence(thumbs, a, a + length, t))
    assert 0.7 <= best < 0.8


def _uneven_mix(end_std: float, n: int = 13) -> np.ndarray:
    """``(n, 18, 32, 3) uint8`` thumbnails: a textured picture (std 25 levels) mixed into
    one of spatial std ``end_std``, a quarter of the pixels 0.4 ahead of or behind the
    frame's weight in the frames between (coherence about 0.74)."""
    rng = np.random.default_rng(0)
    a = np.clip(120 + rng.normal(0, 25, (18, 32, 1)).repeat(3, axis=2), 0, 255)
    b = np.clip(110 + rng.normal(0, end_std, (18, 32, 1)).repeat(3, axis=2), 0, 255)
    lag = np.where(rng.random((18, 32, 1)) < 0.25, rng.choice([-0.4, 0.4], (18, 32, 1)), 0.0)
    out = []
    for j in range(n):
        w = np.clip(j / (n - 1) + lag * (0 < j < n - 1), 0, 1)
        out.append(np.clip(np.rint(a + w * (b - a)), 0, 255).astype(np.uint8))
    return np.stack(out)


@pytest.mark.parametrize("end_std,sure", [(5.0, False), (12.0, True)])
def test_an_uneven_mix_is_sure_only_between_pictures_with_contrast(end_std, sure):
    """Coherence 0.7-0.8 makes a window a transition where both ends have contrast; where
    an end is flat (spatial std at most 6 levels: a pan over grey asphalt) 0.8 holds, and
    the window tells only a transition's extent."""
    thumbs = _uneven_mix(end_std)
    var = spatial_var(thumbs)
    t, _ = fit_blend(thumbs, 0, len(thumbs) - 1)
    assert 0.7 <= coherence(thumbs, 0, len(thumbs) - 1, t) < 0.8
    assert (np.sqrt(var[-1]) <= BlendTest().flat_std) == (not sure)
    hit = BlendTest().check(thumbs, var, 0, len(thumbs) - 1)
    assert hit is not None and hit[1] is sure
