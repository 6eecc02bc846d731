"""Fast-cut footage: shots of 3-6 frames, cuts beside flashes and dissolves
(:mod:`curate.split.inserts`, :func:`curate.split.lights.typical`).

Frames are generated with exact truth (:func:`support.synth.render`): a textured scene
seen through a panning camera; another time of the same scene is another shot of one
place (its blobs have drifted, the camera has moved on), as two cameras in one room.
"""

import numpy as np
import pytest

import curate.split.lights as lights
from curate.split.flashes import is_insert
from curate.split.inserts import shot_between
from curate.split.lights import relit_copy
from curate.split.lights import blinks
from curate.split.overlays import picture
from curate.split.transitions import resolve_gaps, thumbnail
from support.synth import detect_frames, render

W, H, FPS = 256, 144, 25.0


def _scene(seed: int, n: int, pan=(0.03, 0.0), t0: int = 0) -> list[np.ndarray]:
    return [render(seed, (t0 + i) / FPS, W, H, pan=pan)[..., ::-1].copy() for i in range(n)]


def _lit(frames: list[np.ndarray], gain: float, offset: float) -> list[np.ndarray]:
    return [np.clip(f.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8) for f in frames]


@pytest.mark.parametrize("k", [3, 4, 5])
def test_a_few_frames_of_another_shot_of_one_place_are_a_shot(k):
    """Three shots of one place, the middle one ``k`` frames: a cut at each end. The frames
    between are half explained by the shots either side jointly, so the old rule
    (:func:`curate.split.flashes.is_insert`) took the two cuts for one event."""
    frames = _scene(41, 30) + _scene(41, k, t0=60) + _scene(41, 30, t0=120)
    b, thumbs = detect_frames(frames, FPS)
    assert b.cuts == [30, 30 + k] and b.gaps == [], b
    assert shot_between(thumbs, 30, 30 + k) and not is_insert(thumbs, 30, 30 + k)


@pytest.mark.parametrize("gain,offset,k", [(1.6, 20, 2), (1.8, 40, 2), (2.5, 0, 3), (3.0, 60, 2)])
def test_a_flash_beside_a_cut_is_one_boundary(gain, offset, k):
    """The new shot's first ``k`` frames under a flash, or the old shot's last: one cut, at
    the shot change. (A gain of 3 had read as a shot of its own before: two cuts.)"""
    after = _scene(47, 30, pan=(0.0, 0.03))
    after[:k] = _lit(after[:k], gain, offset)
    b, thumbs = detect_frames(_scene(41, 30) + after, FPS)
    assert b.cuts == [30] and b.gaps == [], b
    assert relit_copy(thumbs[30 + k], thumbs[30]) and not shot_between(thumbs, 30, 30 + k)
    before = _scene(41, 30)
    before[-k:] = _lit(before[-k:], gain, offset)
    b, _ = detect_frames(before + _scene(47, 30, pan=(0.0, 0.03)), FPS)
    assert b.cuts == [30] and b.gaps == [], b


def test_relit_copy_wants_the_same_picture_under_other_light():
    a, other = _scene(41, 3), _scene(47, 1, pan=(0.0, 0.03))[0]
    t = [thumbnail(f) for f in a]
    assert relit_copy(t[0], thumbnail(_lit([a[2]], 0.5, 0)[0]))  # darker, two frames on
    assert relit_copy(t[0], thumbnail(_lit([a[1]], 2.0, 30)[0]))
    assert not relit_copy(t[0], t[2])  # the camera moved: changes go both ways
    assert not relit_copy(t[0], thumbnail(_lit([other], 1.5, 0)[0]))


def _dissolve(a: np.ndarray, b: np.ndarray, n: int) -> list[np.ndarray]:
    return [((1 - (k + 1) / (n + 1)) * a.astype(np.float32) + (k + 1) / (n + 1) * b.astype(np.float32))
            .astype(np.uint8) for k in range(n)]


def test_a_short_shot_before_a_dissolve_keeps_its_cut():
    """Cut at 30, a 5-frame shot, then an 8-frame dissolve: the cut is no detector
    reacting to the dissolve's start, so it is not absorbed into it."""
    s1, s2, s3 = _scene(41, 30), _scene(47, 5, pan=(0.0, 0.03)), _scene(53, 30, pan=(-0.03, 0.0))
    b, thumbs = detect_frames(s1 + s2 + _dissolve(s2[-1], s3[0], 8) + s3, FPS)
    assert b.cuts == [30] and b.gaps == [(35, 43)], b
    assert resolve_gaps([30], [(35, 43)], snap=6, join=12) == ([], [(30, 43)])  # without the test
    # a cut 3 frames after the dissolve, with the next shot's frames before it: absorbed
    apart = lambda a, z, *around: shot_between(thumbs, a, z, *around)  # noqa: E731
    assert resolve_gaps([46], [(35, 43)], snap=6, join=12, apart=apart) == ([], [(35, 46)])


def test_cuts_beside_a_gap_are_judged_nearest_first_and_none_kept_inside_it():
    """A kept cut stops the gap from reaching past it (a break of a review: cut 46 was
    kept and 48 absorbed, which widened the gap over 46), and before a gap the nearest cut
    is judged first, over frames without the other cut in them."""
    asked = []

    def apart(first, second, before, after, cuts):
        asked.append((first, second))
        return cuts == (46,) or cuts == (34,)

    assert resolve_gaps([46, 48], [(35, 44)], snap=6, join=12, apart=apart) == ([46, 48], [(35, 44)])
    asked.clear()
    assert resolve_gaps([30, 34], [(36, 44)], snap=6, join=12, apart=apart) == ([30, 34], [(36, 44)])
    assert asked == [(34, 36)]  # 30 is not judged over frames 30-35, which hold the cut at 34


def test_two_gaps_with_a_shot_between_stay_apart_and_overlapping_ones_join():
    never, always = (lambda *a: False), (lambda *a: True)
    assert resolve_gaps([], [(10, 20), (25, 30)], snap=6, join=12, apart=never) == ([], [(10, 30)])
    assert resolve_gaps([], [(10, 20), (25, 30)], snap=6, join=12, apart=always) == ([], [(10, 20), (25, 30)])
    assert resolve_gaps([], [(10, 20), (22, 30), (25, 40)], snap=6, join=0, apart=always) == (
        [], [(10, 20), (22, 40)])


def test_a_quick_mix_between_two_cuts_is_one_event(monkeypatch):
    """Two frames mixing the shots either side, a cut into each: neither cut changes the
    picture 3 times as much as the frames beside it (:func:`curate.split.inserts.stands_out`),
    so it is one event; the mixed frames alone read as another picture."""
    import curate.split.inserts as inserts
    a, c = _scene(41, 10), _scene(53, 10, pan=(-0.03, 0.0))
    mixed = [(w * a[9].astype(np.float32) + (1 - w) * c[0].astype(np.float32)).astype(np.uint8) for w in (0.6, 0.3)]
    thumbs = np.stack([thumbnail(f) for f in a + mixed + c])
    assert not shot_between(thumbs, 10, 12)
    monkeypatch.setattr(inserts, "stands_out", lambda *a: True)
    assert shot_between(thumbs, 10, 12)


def test_frames_repeating_the_shot_before_are_no_shot(monkeypatch):
    """The frames between repeat the last frame before (a freeze the detector fired around):
    explained by the frames either side, so no shot of their own whatever else holds."""
    import curate.split.inserts as inserts
    a, c = _scene(41, 10), _scene(53, 10, pan=(-0.03, 0.0))
    thumbs = np.stack([thumbnail(f) for f in a + [a[9]] * 3 + c])
    monkeypatch.setattr(inserts, "stands_out", lambda *a: True)
    assert not shot_between(thumbs, 10, 13)
    monkeypatch.setattr(inserts, "MIN_JOINT", -1.0)
    assert shot_between(thumbs, 10, 13)


def _stills(seed: int, n: int, gain: float, rng: np.random.Generator) -> list[np.ndarray]:
    base = render(seed, 0.0, W, H, drift=0.0).astype(np.float32) * gain
    return [np.clip(base + rng.normal(0, 1.5, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def test_fast_cuts_between_fixed_cameras_are_no_blinking_light(monkeypatch):
    """Four fixed cameras cut every 3-6 frames, some coming back: the usual change around a
    cut is the median of the frames around, not their largest, which was another cut."""
    r, noise = np.random.default_rng(0), np.random.default_rng(1)
    cams = [(60 + k, float(r.uniform(0.4, 1.0))) for k in range(4)]
    frames, cuts = [], []
    for k in range(16):
        cam = int(r.integers(4)) if k else 0
        if frames:
            cuts.append(len(frames))
        frames += _stills(cams[cam][0], 30 if k in (0, 15) else int(r.integers(3, 7)), cams[cam][1], noise)
    thumbs = np.stack([thumbnail(f) for f in frames])
    live = picture(thumbs)
    assert not any(blinks(thumbs, c, FPS, live) for c in cuts)
    monkeypatch.setattr(lights, "typical", max)  # the old statistic: the test can fail
    assert any(blinks(thumbs, c, FPS, live) for c in cuts)


def test_a_brighter_shot_intercut_for_a_few_frames_is_no_flash(monkeypatch):
    """A B A with B 3 frames of a brighter shot: B's change from A is mostly of mean
    brightness, so the flash filter had taken it for a flash of A (brighter frames were not
    judged) and both cuts were lost; B is no relit copy of A."""
    a = _scene(41, 60)
    b = _lit(_scene(53, 3, pan=(-0.03, 0.0)), 1.0, 90)
    b_, thumbs = detect_frames(a[:30] + b + a[33:], FPS)
    assert b_.cuts == [30, 33], b_
    import curate.split.flashes as flashes
    monkeypatch.setattr(flashes, "relit_copy", lambda x, y: True)  # brighter frames not judged
    b_, _ = detect_frames(a[:30] + b + a[33:], FPS)
    assert b_.cuts == [], b_
