"""Encoding ahead (curate.speculate): clips encoded while the one-decode pass reads are the same clips."""

import hashlib

import numpy as np
import pytest

from curate import onepass, speculate
from curate.extract import ExtractStage, clip_path
from curate.probe import ProbeStage
from curate.embed import EmbedStage
from curate.filter import FilterStage
from curate.score import ScoreStage
from curate.split import SplitStage
from curate.split.shots import Boundaries, ShotDetector
from curate.tasks import SourceTask
from support.synth import Shot, shots_video

FPS = 25.0
# 32 s: short shots, a pan, a 12 s shot the split cuts into two equal windows, a 0.3 s shot
SHOTS = [Shot(31, 60), Shot(32, 75, pan=(0.1, 0.0)), Shot(33, 90), Shot(34, 300), Shot(35, 8),
         Shot(36, 70), Shot(37, 200)]


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("v") / "shots.mp4")
    return path, shots_video(path, SHOTS, 160, 96, FPS)


def _pass(path, work, monkeypatch, ahead: bool, preview=None):
    """One-decode pass with score fused; returns the clip tasks and how many encodes were used ahead."""
    split = SplitStage(min_clip_s=1.0, max_clip_s=10.0, min_shot_s=0.2, limits=None)
    extract = ExtractStage(short_side=96, limits=None, encode_ahead=ahead)
    if preview is not None:
        monkeypatch.setattr(ShotDetector, "preview", preview)
    taken = []
    real_take = speculate.Speculator.take
    monkeypatch.setattr(speculate.Speculator, "take",
                        lambda self, span, fps: taken.append(real_take(self, span, fps)) or taken[-1])
    task = ProbeStage(limits=None)(SourceTask(path=path, work_dir=str(work)))
    # fused as in a run: score, embed, and a filter that drops the panning shot
    then = [ScoreStage(), EmbedStage(), FilterStage(max_motion=0.05, min_sharpness=None)]
    job = onepass.OnePassJob(task, split, extract, extract.clip_settings(), then=then)
    onepass.run_one_pass(job)
    return job.clips, sum(t is not None for t in taken)


def _digest(work, clip):
    with open(clip_path(str(work), clip.clip_id), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _same(a_work, a, b_work, b):
    assert [c.clip_id for c in a] == [c.clip_id for c in b]
    assert [c.span for c in a] == [c.span for c in b]
    assert [c.record for c in a] == [c.record for c in b]  # source record, span, clip, scores, hashes
    assert [c.reject_row for c in a] == [c.reject_row for c in b]
    assert [_digest(a_work, c) for c in a] == [_digest(b_work, c) for c in b]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.frames, y.frames)
        np.testing.assert_array_equal(x.motion, y.motion)
        assert x.n_in_source == y.n_in_source == len(a)


def test_clips_encoded_ahead_are_the_clips_of_a_pass_that_waits(long_video, tmp_path, monkeypatch):
    path, cuts = long_video
    ahead, used = _pass(path, tmp_path / "ahead", monkeypatch, ahead=True)
    after, none = _pass(path, tmp_path / "after", monkeypatch, ahead=False)
    assert none == 0
    # shots end at the cuts 60, 135, 225, 525 (533: the 8-frame shot is too short), 603; the
    # 300-frame shot is two 150-frame windows
    assert [(c.span.start_frame, c.span.end_frame) for c in after] == [
        (0, 60), (60, 135), (135, 225), (225, 375), (375, 525), (533, 603), (603, 803)]
    _same(tmp_path / "ahead", ahead, tmp_path / "after", after)
    assert all(c.record.scores is not None and {"score", "embed", "filter"} <= set(c.timings) for c in ahead)
    dropped = [(c.span.start_frame, c.reject_row.reason) for c in ahead if c.reject_row is not None]
    assert dropped == [(60, "high_motion")] and ahead[1].reject_row.span == after[1].span
    # every span but the last shot's was encoded ahead (that shot ends with the source)
    assert used == 6


def test_a_wrong_preview_costs_time_not_clips(long_video, tmp_path, monkeypatch):
    path, _ = long_video

    real_preview = ShotDetector.preview

    def off_by_three(self, lo):  # every boundary three frames late
        b = real_preview(self, lo)
        return Boundaries([c + 3 for c in b.cuts], [(s + 3, e + 3) for s, e in b.gaps])

    wrong, used = _pass(path, tmp_path / "wrong", monkeypatch, ahead=True, preview=off_by_three)
    monkeypatch.setattr(ShotDetector, "preview", real_preview)
    after, _ = _pass(path, tmp_path / "after", monkeypatch, ahead=False)
    assert used == 0  # nothing guessed matched a final span: all encoded at the end
    _same(tmp_path / "wrong", wrong, tmp_path / "after", after)


def test_a_different_frame_rate_guess_is_not_used(long_video, tmp_path, monkeypatch):
    path, _ = long_video
    real_shot = speculate.Speculator._shot

    def slow_guess(self, a, z, times):
        self.max_fps = 20.0  # the guess caps at 20 fps; the final clips are 24 fps (extract's max_fps)
        return real_shot(self, a, z, times)

    monkeypatch.setattr(speculate.Speculator, "_shot", slow_guess)
    guessed, used = _pass(path, tmp_path / "guess", monkeypatch, ahead=True)
    assert used == 0 and {c.record.clip.fps for c in guessed} == {24.0}


def test_no_preview_for_transnetv2():
    det = SplitStage(detector="transnetv2", device="cpu").shot_detector(FPS)
    assert not det.can_preview
    with pytest.raises(RuntimeError, match="at the end"):
        det.preview(0)


def test_a_clip_file_this_pass_did_not_write_is_never_unpickled(tmp_path):
    """Encoded-ahead clip tasks go through the pass's scratch folder: one whose bytes
    another process wrote or changed there is refused before unpickling."""
    import pickle

    from curate.speculate import dump_clip, load_clip

    class Boom:
        def __reduce__(self):  # would run at unpickling
            return (exec, ("raise SystemExit('unpickled')",))

    path = dump_clip({"clip": 1}, str(tmp_path))
    blob = bytearray(open(path, "rb").read())
    blob[-2] ^= 0xFF  # changed in place
    open(path, "wb").write(bytes(blob))
    with pytest.raises(ValueError, match="not a clip task this pass wrote"):
        load_clip(path, None, None, 1)
    with open(path, "wb") as f:  # written by someone else, without this process's key
        f.write(bytes(32) + pickle.dumps(Boom()))
    with pytest.raises(ValueError, match="not a clip task this pass wrote"):
        load_clip(path, None, None, 1)
