"""curate.dedup.ncc: the batched FFT correlation gives OpenCV's TM_CCOEFF_NORMED maxima."""

import cv2
import numpy as np
import pytest

from curate.dedup.ncc import Batch, MeanShapes, Template, best_matches

T, K = 48, 42  # thumbnail side and the trimmed template's (a border of 3 cut)


def _scene(seed: int, t: int = T) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.random((t, t)).astype(np.float32) * 255, (7, 7), 2)


def _opencv(image: np.ndarray, template: np.ndarray) -> tuple[float, tuple[int, int]]:
    _, v, _, loc = cv2.minMaxLoc(cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED))
    return v, tuple(loc)


def test_best_matches_agree_with_opencv_over_every_placement_size():
    scene = _scene(1)
    big = cv2.resize(_scene(2, 80), (80, 80))
    big[17:17 + K, 9:9 + K] = scene[3:45, 3:45]  # the template planted at x=9, y=17 of a 69 px image
    images = [cv2.resize(scene, (b, b)) for b in (48, 52, 58, 63)] + [big[:69, :69].copy()]
    template = scene[3:45, 3:45]
    batch = Batch(images, K)
    assert batch.side >= 69 and batch.scale.shape == (5, 28, 28)
    got = best_matches(batch, Template(template, batch.side))
    for image, (v, loc) in zip(images, got):
        want_v, want_loc = _opencv(image, template)
        assert loc == want_loc and v == pytest.approx(want_v, abs=1e-4)
    assert got[-1][1] == (9, 17) and got[-1][0] == pytest.approx(1.0, abs=1e-4)
    assert got[0] == (pytest.approx(1.0, abs=1e-4), (3, 3))  # the scene itself, unscaled


def test_flat_windows_and_a_flat_template_follow_opencv():
    image = _scene(3)
    image[:, :30] = 100.0  # every window over the left part is flat...
    flat = np.full((K, K), 7.0, np.float32)
    side = Batch([image], K).side
    (v, loc), = best_matches(Batch([image], K), Template(flat, side))
    assert (v, loc) == (1.0, (0, 0)) == (_opencv(image, flat)[0], (0, 0))  # a flat template: 1 everywhere
    template = _scene(4)[3:45, 3:45]
    left = np.full((T, T), 100.0, np.float32)
    (v, loc), = best_matches(Batch([left], K), Template(template, side))
    assert (v, loc) == (0.0, (0, 0)) and _opencv(left, template) == (0.0, (0, 0))  # flat windows: 0


def test_mean_shapes_keep_what_was_made_and_drop_the_oldest_past_the_bound():
    scene, calls = _scene(5), []

    def place(x, scale, angle):
        calls.append((scale, angle))
        return cv2.resize(x, (round(T * scale),) * 2)

    placements = ((1.0, 0.0), (1.2, 0.0))
    shapes = MeanShapes()
    first = shapes.batch("a", scene, placements, place, K)
    assert shapes.batch("a", scene, placements, place, K) is first and calls == list(placements)
    one = first.nbytes
    small = MeanShapes(max_bytes=2 * one)
    for key in "abc":
        small.batch(key, scene, placements, place, K)
    assert small.nbytes == 2 * one and [k[0] for k in small._items] == ["b", "c"]


def test_batches_of_other_sizes_in_turn_agree_and_a_template_of_another_side_is_refused():
    """Each batch pads to its own largest placement (work arrays reused between batches)."""
    scene = _scene(6)
    template = scene[3:45, 3:45]
    for sizes in ((69, 60), (48, 50), (72, 49), (48,)):
        images = [cv2.resize(scene, (b, b)) for b in sizes]
        batch = Batch(images, K)
        got = best_matches(batch, Template(template, batch.side))
        for image, (v, loc) in zip(images, got):
            want_v, want_loc = _opencv(image, template)
            assert loc == want_loc and v == pytest.approx(want_v, abs=1e-4)
    with pytest.raises(ValueError, match="padded to"):
        best_matches(Batch([scene], K), Template(template, Batch([cv2.resize(scene, (69, 69))], K).side))


def test_flat_windows_at_any_level_and_dim_means_are_exact():
    """Found by a break test: a flat area at a level binary fractions cannot hold (16.3)
    left a rounding residue in the windows' spread, which made a perfect 1.0 out of noise
    (a cropped copy of a slide-like clip was then placed on its blank centre); and a
    low-contrast mean far from 0 lost precision to its DC term."""
    image = _scene(7, 69)
    image[:, :50] = np.float32(16.3)
    template = _scene(8)[3:45, 3:45]
    batch = Batch([image], K)
    (v, loc), = best_matches(batch, Template(template, batch.side))
    want_v, want_loc = _opencv(image, template)
    assert loc == want_loc and v == pytest.approx(want_v, abs=1e-4)
    assert not batch.scale[0, :, :8].any()  # windows over the flat part: spread 0, correlation 0
    dim = (128 + 2 * (_scene(9) / 255 - 0.5)).astype(np.float32)  # 2 levels of contrast on 128
    part = dim[5:47, 4:46].copy()
    batch = Batch([dim], K)
    (v, loc), = best_matches(batch, Template(part, batch.side))
    assert loc == (4, 5) and v == pytest.approx(1.0, abs=1e-5)
