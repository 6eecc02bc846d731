"""Span planning: trimming at cuts, minimum length, windows for long shots."""

import pytest

from curate.split.spans import HOLD_S, plan_spans, timestamp_breaks


def _times(n, fps=25.0):
    return [i / fps for i in range(n)]


def test_no_cut_is_one_shot():
    kept, short = plan_spans([], _times(100), 4.0, min_clip_s=1.0, max_clip_s=10.0)
    assert [(s.start_frame, s.end_frame) for s in kept] == [(0, 100)]
    assert kept[0].duration_s == pytest.approx(4.0)
    assert short == []


def test_cuts_split_exactly_without_trim():
    kept, _ = plan_spans([30, 76], _times(120), 4.8, min_clip_s=1.0, max_clip_s=10.0)
    assert [(s.start_frame, s.end_frame) for s in kept] == [(0, 30), (30, 76), (76, 120)]


def test_trim_removes_frames_near_each_cut():
    kept, _ = plan_spans([50], _times(100), 4.0, min_clip_s=1.0, max_clip_s=10.0, trim_s=0.08)
    # 0.08 s at 25 fps: frames 48, 49 (before) and 50, 51 (after) are left out.
    assert [(s.start_frame, s.end_frame) for s in kept] == [(0, 48), (52, 100)]


def test_short_shot_is_dropped():
    kept, short = plan_spans([10], _times(100), 4.0, min_clip_s=1.0, max_clip_s=10.0)
    assert [(s.start_frame, s.end_frame) for s in kept] == [(10, 100)]
    assert [(s.start_frame, s.end_frame) for s in short] == [(0, 10)]


def test_long_shot_cut_into_equal_windows_no_longer_than_max():
    kept, short = plan_spans([], _times(250), 10.0, min_clip_s=1.0, max_clip_s=4.0)
    assert [(s.start_frame, s.end_frame) for s in kept] == [(0, 83), (83, 167), (167, 250)]
    assert all(s.duration_s <= 4.0 for s in kept)
    assert [s.window_index for s in kept] == [0, 1, 2]
    assert short == []


def test_a_variable_rate_shot_is_cut_into_windows_of_equal_time():
    """A break test: 90 frames at 30 fps then 90 at about 10 fps (11.93 s, max 10 s) came
    out as 3.00 s and 8.93 s windows of 90 frames each."""
    times = [i / 30 for i in range(90)] + [3.0 + i * (8.93 / 90) for i in range(90)]
    kept, short = plan_spans([], times, 11.93, min_clip_s=1.0, max_clip_s=10.0)
    assert len(kept) == 2 and short == []
    assert [s.duration_s for s in kept] == pytest.approx([5.965, 5.965], abs=0.1)
    assert kept[0].end_frame == kept[1].start_frame == 90 + round(2.965 / (8.93 / 90))


def test_windows_fall_back_to_fixed_length_when_equal_ones_are_too_short():
    kept, short = plan_spans([], _times(80), 3.2, min_clip_s=2.0, max_clip_s=3.0)
    assert [(s.start_frame, s.end_frame) for s in kept] == [(0, 75)]
    assert [(s.start_frame, s.end_frame) for s in short] == [(75, 80)]


def test_min_above_max_is_an_error():
    with pytest.raises(ValueError):
        plan_spans([], _times(10), 0.4, min_clip_s=3.0, max_clip_s=2.0)


def test_a_hole_in_the_timestamps_splits_the_shot_and_ends_clips_at_the_hole():
    times = [i / 30 for i in range(60)] + [100 + i / 30 for i in range(60)]
    kept, short = plan_spans([], times, 102.0, min_clip_s=1.0, max_clip_s=10.0, trim_s=0.05)
    assert [(s.start_frame, s.end_frame) for s in kept] == [(0, 59), (62, 120)]
    assert kept[0].end_s == pytest.approx(59 / 30) and kept[1].start_s == pytest.approx(100 + 2 / 30)
    assert short == []


def test_a_still_stretch_of_a_variable_rate_recording_is_a_hold_not_a_break():
    """A break test: a screen recorder sends no frame while the picture stands still; its
    2 s holes had cut one continuous 13 s recording into five pieces, all too short."""
    times, t = [], 0.0
    for part in range(4):  # 1 s of frames at 30 fps, then the last one held for 2 s
        times += [t + i / 30 for i in range(30)]
        t += 29 / 30 + 2.0
    kept, short = plan_spans([], times, times[-1] + 1 / 30, min_clip_s=1.0, max_clip_s=20.0)
    assert [(s.start_frame, s.end_frame) for s in kept] == [(0, 120)] and short == []
    assert kept[0].duration_s == pytest.approx(times[-1] + 1 / 30)  # the holds count: 9.97 s
    assert timestamp_breaks(times) == []
    longer = [i / 30 for i in range(60)] + [2 + HOLD_S + i / 30 for i in range(60)]  # held past HOLD_S
    assert timestamp_breaks(longer) == [60]


def test_timestamps_that_restart_split_without_losing_the_first_part():
    times = [i / 30 for i in range(60)] + [i / 30 for i in range(60)]  # two files joined
    kept, _ = plan_spans([], times, 2.0, min_clip_s=1.0, max_clip_s=10.0, trim_s=0.05)
    assert [(s.start_frame, s.end_frame) for s in kept] == [(0, 59), (62, 120)]
    assert all(s.duration_s > 1.0 for s in kept)
