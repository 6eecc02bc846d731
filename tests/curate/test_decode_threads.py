"""Decoder threads of the one-decode pass: one when the passes fill the CPUs, the same frames and clips."""

import contextlib
import hashlib

import numpy as np
import pydantic
import pytest

import curate.codec.decode as decode_module
from curate.codec import iter_frames
from curate.extract import ExtractStage, clip_path
from curate.probe import ProbeStage
from curate.split import SplitStage
from curate.tasks import SourceTask
from pipelines.rows import PassSteps, SplitExtract, dumps, loads
from support.synth import Shot, shots_video


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("v") / "cuts.mp4")
    shots_video(path, [Shot(31, 30), Shot(32, 36, pan=(0.1, 0.0)), Shot(33, 30)], 256, 192)
    return path  # cuts at frames 30 and 66


@pytest.fixture
def opened(monkeypatch):
    """The decoder thread count of every container iter_frames opens, once it has decoded."""
    counts, real = [], decode_module.open_container

    @contextlib.contextmanager
    def recording(*args, **kwargs):
        with real(*args, **kwargs) as container:
            yield container
            counts.append(container.streams.video[0].codec_context.thread_count)

    monkeypatch.setattr(decode_module, "open_container", recording)
    return counts


@pytest.mark.parametrize("sources, cpus, want", [(2, 2, 1), (24, 2, 1), (16, 16, 1), (1, 2, 0), (3, 16, 0)])
def test_auto_decodes_on_one_thread_only_when_the_passes_fill_the_cpus(sources, cpus, want):
    assert ExtractStage().pass_decode_threads(sources, cpus) == want


def test_a_set_count_is_used_as_it_is_and_bad_values_are_refused():
    assert ExtractStage(decode_threads=3).pass_decode_threads(100, 2) == 3
    assert ExtractStage(decode_threads=0).pass_decode_threads(100, 2) == 0
    for bad in (-1, 65, "fast"):
        with pytest.raises(pydantic.ValidationError):
            ExtractStage(decode_threads=bad)
    with pytest.raises(ValueError, match="at least 1"):
        ExtractStage().pass_decode_threads(4, -2)
    assert "decode_threads" not in ExtractStage(decode_threads=1).settings()  # how, not what: no new clip ids


@pytest.fixture(scope="module")
def hd_video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("v") / "hd.mp4")
    shots_video(path, [Shot(34, 10), Shot(35, 10, pan=(0.2, 0.1))], 1280, 720)
    return path  # swscale runs threaded from 1280x720 (sws_threads), single with threads=1


@pytest.mark.parametrize("which, size, frames", [("cuts", (128, 96), 96), ("hd", (456, 256), 20),
                                                  ("hd", (1280, 720), 20)])
def test_one_decoder_thread_gives_the_same_frames_and_times(cut_video, hd_video, opened, which, size, frames):
    path = cut_video if which == "cuts" else hd_video
    runs = {n: list(iter_frames(path, size=size, fmt="yuv420p", threads=n)) for n in (0, 1)}
    assert opened[0] > 1 and opened[1] == 1  # FFmpeg's own count on this machine, then one
    assert len(runs[0]) == len(runs[1]) == frames
    for a, b in zip(runs[0], runs[1]):
        assert a.t_s == b.t_s
        assert np.array_equal(a.image.to_ndarray(), b.image.to_ndarray())  # the yuv420p planes


def _pass(path, work, sources, cpus):
    split = SplitStage(min_clip_s=0.5, max_clip_s=10.0, min_shot_s=0.2, limits=None)
    extract = ExtractStage(short_side=96, limits=None)
    steps = SplitExtract(split, extract, extract.clip_settings())
    steps.sources, steps.cpus = sources, cpus
    task = ProbeStage(limits=None)(SourceTask(path=path, work_dir=str(work)))
    clips = [loads(r["task"]) for r in steps({"task": dumps(task)})]
    return {c.clip_id: hashlib.sha256(open(clip_path(str(work), c.clip_id), "rb").read()).hexdigest() for c in clips}


def test_a_pass_among_as_many_as_cpus_decodes_on_one_thread_into_the_same_clips(cut_video, tmp_path, opened):
    alone = _pass(cut_video, tmp_path / "alone", 1, 2)
    crowded = _pass(cut_video, tmp_path / "crowded", 2, 2)
    assert opened[0] > 1 and opened[-1] == 1
    assert len(alone) == 3 and crowded == alone  # same clip ids, same bytes


def test_the_steps_tell_the_pass_the_phase_size():
    split, extract = SplitStage(limits=None), ExtractStage(limits=None)
    steps = PassSteps(ProbeStage(limits=None), split, [extract], extract.clip_settings())
    steps.expect(0, 4)
    assert (steps.one_pass.sources, steps.one_pass.cpus) == (1, 4)
    steps.expect(30)
    assert (steps.one_pass.sources, steps.one_pass.cpus) == (30, None)
