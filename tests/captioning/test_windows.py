"""Windows cover each clip exactly, and every window sees at least one frame."""

import numpy as np
import pytest

from curate.captioning.windows import Window, covers_exactly, frames_in, make_windows


@pytest.mark.parametrize("duration,window,stride", [
    (0.4, 2.0, 2.0), (2.0, 2.0, 2.0), (3.0, 2.0, 2.0), (10.0, 4.0, 3.0), (10.0, 4.0, 4.0),
    (9.2, 4.0, 4.0), (7.3, 2.5, 1.0), (61.7, 10.0, 8.0), (4.01, 4.0, 4.0),
])
def test_windows_cover_the_clip_exactly(duration, window, stride):
    wins = make_windows(duration, window, stride)
    assert covers_exactly(wins, duration)
    assert wins[0].start_s == 0.0 and wins[-1].end_s == pytest.approx(duration)
    starts = [w.start_s for w in wins]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for a, b in zip(wins[:-1], wins[1:]):
        assert b.start_s <= a.end_s  # no gap
        assert b.start_s - a.start_s == pytest.approx(stride)


def test_random_windows_cover_exactly():
    rng = np.random.default_rng(0)
    for _ in range(300):
        window = float(rng.uniform(0.5, 12))
        stride = float(rng.uniform(0.1, 1.0)) * window
        duration = float(rng.uniform(0.1, 80))
        assert covers_exactly(make_windows(duration, window, stride), duration)


def test_short_tail_is_absorbed_not_a_window_of_its_own():
    wins = make_windows(8.3, 4.0, 4.0)
    assert [(w.start_s, w.end_s) for w in wins] == [(0.0, 4.0), (4.0, 8.3)]


def test_coverage_check_catches_gaps_and_short_ends():
    assert not covers_exactly([Window(0.0, 2.0), Window(2.5, 4.0)], 4.0)
    assert not covers_exactly([Window(0.0, 2.0), Window(2.0, 3.5)], 4.0)
    assert not covers_exactly([Window(0.5, 4.0)], 4.0)


def test_bad_window_settings_raise():
    with pytest.raises(ValueError):
        make_windows(5.0, 2.0, 3.0)
    with pytest.raises(ValueError):
        make_windows(0.0, 2.0, 1.0)


def test_frames_in_windows():
    times = [0.25, 0.75, 1.25, 1.75, 2.25, 2.75]
    wins = make_windows(3.0, 1.0, 1.0)
    got = [frames_in(w, times, 3.0) for w in wins]
    assert got == [[0, 1], [2, 3], [4, 5]]
    # a window between sampled frames still gets the nearest one
    assert frames_in(Window(1.3, 1.6), times, 3.0) == [2]
    assert frames_in(Window(2.0, 3.0), [0.0, 3.0], 3.0) == [1]  # the last window includes the clip end
