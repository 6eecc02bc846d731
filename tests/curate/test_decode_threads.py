"""Decoder threads of the one-decode pass (``extract.decode_threads``): the same frames and clips of an intact source."""

import contextlib
import hashlib
from types import SimpleNamespace

import numpy as np
import pydantic
import pytest

import curate.codec.decode as decode_module
from curate.codec import iter_frames
from curate.extract import ExtractStage, clip_path
from curate.probe import ProbeStage
from curate.split import SplitStage
from curate.tasks import SourceTask
from pipelines.rows import SplitExtract, dumps, loads
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


def test_the_setting_is_a_thread_count_or_auto_and_changes_no_clip_id():
    assert ExtractStage().decode_threads == "auto"
    assert ExtractStage(decode_threads=3).decode_threads == 3
    for bad in (-1, 65, "fast", "Auto", 1.5, False, "1"):  # False: YAML's `off`, not FFmpeg's count
        with pytest.raises(pydantic.ValidationError):
            ExtractStage(decode_threads=bad)
    for threads in (1, "auto"):  # how, not what: no new clip ids
        assert ExtractStage(decode_threads=threads).settings() == ExtractStage(decode_threads=0).settings()


@pytest.mark.parametrize("size, auto", [((640, 480), 1), ((1278, 720), 1), ((1280, 720), 0), ((1920, 1080), 0),
                                        ((720, 1280), 0)])  # a portrait 720p source: the same pixels
def test_auto_decodes_sources_under_720p_on_one_thread(size, auto):
    src = SimpleNamespace(width=size[0], height=size[1])
    assert ExtractStage().decode_threads_for(src) == auto
    assert ExtractStage(decode_threads=0).decode_threads_for(src) == 0  # a number is taken as it is
    assert ExtractStage(decode_threads=2).decode_threads_for(src) == 2


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


def _pass(path, work, threads):
    split = SplitStage(min_clip_s=0.5, max_clip_s=10.0, min_shot_s=0.2, limits=None)
    extract = ExtractStage(short_side=96, limits=None, decode_threads=threads)
    steps = SplitExtract(split, extract, extract.clip_settings())
    task = ProbeStage(limits=None)(SourceTask(path=path, work_dir=str(work)))
    clips = [loads(r["task"]) for r in steps({"task": dumps(task)})]
    return {c.clip_id: hashlib.sha256(open(clip_path(str(work), c.clip_id), "rb").read()).hexdigest() for c in clips}


@pytest.mark.parametrize("which, want", [("cuts", 1), ("hd", 0)])
def test_the_pass_decodes_with_the_sources_auto_thread_count(cut_video, hd_video, tmp_path, opened, which, want):
    split, extract = SplitStage(limits=None), ExtractStage(short_side=96, limits=None)  # decode_threads: auto
    task = ProbeStage(limits=None)(SourceTask(path=cut_video if which == "cuts" else hd_video, work_dir=str(tmp_path)))
    list(SplitExtract(split, extract, extract.clip_settings())({"task": dumps(task)}))
    assert opened and (opened[-1] == 1 if want == 1 else opened[-1] > 1)  # 256x192 on one; 1280x720 FFmpeg's


def test_a_pass_on_one_decoder_thread_makes_the_same_clips(cut_video, tmp_path, opened):
    threaded = _pass(cut_video, tmp_path / "threaded", 0)
    single = _pass(cut_video, tmp_path / "single", 1)
    assert opened[0] > 1 and opened[-1] == 1
    assert len(threaded) == 3 and single == threaded  # same clip ids, same bytes
