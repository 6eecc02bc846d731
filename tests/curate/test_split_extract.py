"""Probe -> split -> extract on synthetic footage with cuts at known frames."""

import os

import numpy as np
import pytest

from curate.codec import iter_frames, probe
from curate.extract import ExtractStage
from curate.timegrid import resample
from curate.frames_io import load_frames
from curate.ids import clip_id
from curate.probe import ProbeStage
from curate.split import SplitStage
from curate.tasks import ClipTask, SourceTask
from support.synth import Shot, shots_video


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("v") / "cuts.mp4")
    cuts = shots_video(path, [Shot(11, 40), Shot(12, 45), Shot(13, 8), Shot(14, 50)], 256, 192)
    return path, cuts  # cuts at 40, 85, 93; the 8-frame shot is too short


def _split(path, **cfg):
    task = ProbeStage()(SourceTask(path=path, work_dir=""))
    return SplitStage(**cfg)(task)


@pytest.mark.parametrize("detector", ["adaptive", "content", "transnetv2"])
def test_split_finds_cuts_within_one_frame(cut_video, detector):
    path, cuts = cut_video
    task = _split(path, detector=detector, min_clip_s=1.0, max_clip_s=10.0, min_shot_s=0.2)
    starts = [s.start_frame for s in task.spans if s.start_frame > 0]
    ends = [s.end_frame for s in task.spans]
    for truth in (40, 93):
        assert min(abs(s - truth) for s in starts) <= 1
    assert min(abs(e - 40) for e in ends) <= 1
    assert [r.reason for r in task.rejects] == ["too_short"]  # the 8-frame shot
    assert abs(task.rejects[0].span.start_frame - 85) <= 1
    assert task.source.num_frames == 143


def test_a_shot_trimmed_to_nothing_says_so(cut_video):
    """A break test: the 8-frame shot (85-93 at 25 fps, 0.32 s) trimmed by 0.2 s at both
    cuts had a too_short row on an empty span reading "0.000 s < 1.0 s"."""
    task = _split(cut_video[0], min_clip_s=1.0, max_clip_s=10.0, min_shot_s=0.2, trim_s=0.2)
    (row,) = [r for r in task.rejects if abs(r.span.start_frame - 90) <= 1]
    assert row.reason == "too_short" and row.span.end_frame == row.span.start_frame
    assert row.detail == ("nothing is left of the shot once trim_s (0.2 s) is cut at its "
                          "boundaries (min_clip_s 1 s)")
    kept = [r for r in task.rejects if r is not row]
    assert all(r.detail.endswith(" s < 1.0 s") for r in kept)


def test_split_reports_frame_times_from_timestamps(cut_video):
    task = _split(cut_video[0], min_clip_s=1.0)
    assert len(task.frame_times) == 143
    assert task.frame_times[40] == pytest.approx(1.6)
    assert task.spans[-1].end_s == pytest.approx(143 / 25)


def test_resample_caps_fps_on_a_time_grid():
    class F:
        def __init__(self, i):
            self.t_s, self.image = i / 30.0, i
    out = list(resample((F(i) for i in range(60)), 0.0, 2.0, 15.0))
    assert [k for k, _ in out] == list(range(30))
    assert [img for _, img in out] == list(range(0, 60, 2))


def _extract(path, span_index, tmp_path, **cfg):
    task = _split(path, min_clip_s=1.0, max_clip_s=10.0)
    span = task.spans[span_index]
    stage = ExtractStage(**cfg)
    cid = clip_id(task.source.source_id, span.start_frame, span.end_frame, stage.clip_settings())
    ct = ClipTask(source=task.source, span=span, clip_id=cid, work_dir=str(tmp_path))
    return stage(ct)


def test_extract_encodes_the_span_with_stated_frame_count(cut_video, tmp_path):
    t = _extract(cut_video[0], 1, tmp_path, short_side=96, max_fps=30)
    assert t.reject_row is None, t.reject_row
    rec = t.record
    clip = os.path.join(tmp_path, "clips", f"{t.clip_id}.mp4")
    p = probe(clip)
    assert (p.width, p.height) == (rec.clip.width, rec.clip.height) == (128, 96)
    assert sum(1 for _ in iter_frames(clip)) == rec.clip.num_frames == 45
    assert rec.clip.fps == pytest.approx(25.0)
    assert t.frames.shape == (8, 96, 128, 3) and t.frames.dtype == np.uint8
    assert t.motion.shape[1:] == (96, 128)
    frames, times = load_frames(os.path.join(tmp_path, "clips", f"{t.clip_id}.frames.npz"))
    assert frames.shape == t.frames.shape and times == t.frame_times


def test_extract_caps_fps(cut_video, tmp_path):
    t = _extract(cut_video[0], 0, tmp_path, short_side=64, max_fps=10)
    assert t.record.clip.fps == pytest.approx(10.0)
    assert t.record.clip.num_frames == 16  # 40 frames at 25 fps = 1.6 s -> 16 at 10 fps
    clip = os.path.join(tmp_path, "clips", f"{t.clip_id}.mp4")
    assert sum(1 for _ in iter_frames(clip)) == 16


def test_extract_holds_no_frame_of_the_neighbouring_shot(cut_video, tmp_path):
    t = _extract(cut_video[0], 0, tmp_path, short_side=192, max_fps=30)
    clip = os.path.join(tmp_path, "clips", f"{t.clip_id}.mp4")
    src = [f.image.astype(int) for f in iter_frames(cut_video[0])]
    last = list(iter_frames(clip))[-1].image.astype(int)
    assert np.abs(last - src[39]).mean() < np.abs(last - src[40]).mean() / 4


def test_a_montage_of_short_shots_keeps_every_cut_and_no_clip_crosses_one(tmp_path):
    """Shots of 8-11 frames (0.32-0.44 s, under the 0.5 s min_shot_s) between two long
    ones: each cut stays, each short shot is a too_short piece of its own, and the long
    shots' clips hold no frame of a neighbour (a break test: cuts closer than min_shot_s
    had been merged, and kept clips crossed real cuts)."""
    lengths = [50, 9, 11, 8, 10, 9, 50]
    path = str(tmp_path / "montage.mp4")
    cuts = shots_video(path, [Shot(20 + i, n) for i, n in enumerate(lengths)], 256, 192)
    assert cuts == list(np.cumsum(lengths)[:-1])
    task = _split(path, min_clip_s=1.0, max_clip_s=10.0)  # min_shot_s 0.5, as local.yaml
    bounds = [0, *cuts, sum(lengths)]
    shot_of = lambda f: next(i for i in range(len(lengths)) if bounds[i] <= f < bounds[i + 1])  # noqa: E731
    assert len(task.spans) == 2
    for span in task.spans:
        assert shot_of(span.start_frame) == shot_of(span.end_frame - 1)
    pieces = sorted((r.span.start_frame, r.span.end_frame) for r in task.rejects if r.reason == "too_short")
    assert len(pieces) == 5 and all(shot_of(a) == shot_of(z - 1) for a, z in pieces)
