"""One decode per source (curate.onepass): the same clips as the split pass + per-span decodes."""

import hashlib
import os
import tempfile

import av
import numpy as np
import pytest

import curate.codec.decode as decode_module
from curate.extract import ExtractStage, clip_path
from curate.guard import Limits
from curate import onepass
from curate.passfit import limits_for
import curate.spill as spill_module
from curate.spill import FrameSpill
from curate.probe import ProbeStage
from curate.split import SplitStage
from curate.tasks import SourceTask
from pipelines.plan import SplitExtract, dumps, loads
from support.picture import field_frames, write
from support.synth import encode, render
from support.synth import Shot, shots_video


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("v") / "cuts.mp4")
    cuts = shots_video(path, [Shot(21, 40), Shot(22, 55, pan=(0.1, 0.0)), Shot(23, 8), Shot(24, 50)], 256, 192)
    return path, cuts  # cuts at 40, 95, 103; the 8-frame shot is too short


def _stages(**extract_cfg):
    split = SplitStage(min_clip_s=1.0, max_clip_s=10.0, min_shot_s=0.2, limits=None)
    extract = ExtractStage(short_side=128, limits=None, **extract_cfg)
    return split, extract


def _run(path, work, split, extract):
    """Probe, then the plan's split+extract fan-out, then the extract stage as the plan runs it."""
    task = ProbeStage(limits=None)(SourceTask(path=path, work_dir=str(work)))
    rows = SplitExtract(split, extract, extract.clip_settings())({"task": dumps(task)})
    return [extract(loads(r["task"])) for r in rows]


def _digest(work, clip):
    with open(clip_path(str(work), clip.clip_id), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.mark.parametrize("memory_mb", [256.0, 0.0])  # frames held in memory, or all on scratch disk
def test_one_pass_gives_the_per_span_clips_byte_for_byte(cut_video, tmp_path, monkeypatch, memory_mb):
    path, _ = cut_video
    calls = []
    real = decode_module.iter_frames

    def counting(*args, **kwargs):
        calls.append(kwargs.get("start_s"))
        return real(*args, **kwargs)

    for module in ("curate.onepass", "curate.extract", "curate.split.stage"):
        monkeypatch.setattr(f"{module}.iter_frames", counting)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    written = []
    real_keep = onepass._keep
    monkeypatch.setattr(onepass, "_keep", lambda job, clip: (real_keep(job, clip), written.append(job.clip_files[-1])))
    one = _run(path, tmp_path / "one", *_stages(spill_memory_mb=memory_mb))
    assert calls == [None]  # a single decode from the start fed the split and every clip
    assert len(written) == 3 and os.listdir(scratch) == []  # clip tasks went through files, all removed
    calls.clear()
    spans = _run(path, tmp_path / "spans", *_stages(one_pass=False))
    assert len(calls) == 1 + len(spans)  # the detection pass, then one decode per span
    assert [c.clip_id for c in one] == [c.clip_id for c in spans]
    assert [(c.span.start_frame, c.span.end_frame) for c in one] == [(0, 40), (40, 95), (103, 153)]
    assert [_digest(tmp_path / "one", c) for c in one] == [_digest(tmp_path / "spans", c) for c in spans]
    for a, b in zip(one, spans):
        assert a.record.clip == b.record.clip
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.motion, b.motion)
        assert a.frame_times == b.frame_times and a.motion_times == b.motion_times
    assert [r.reason for r in one[0].source_rejects] == ["too_short"]  # the 8-frame shot, once
    assert {"probe", "split", "extract"} <= set(one[0].timings)


def test_a_source_over_the_spill_limit_takes_the_per_span_path(cut_video, tmp_path):
    split, extract = _stages(spill_max_mb=0)
    task = ProbeStage(limits=None)(SourceTask(path=cut_video[0], work_dir=str(tmp_path)))
    rows = [loads(r["task"]) for r in SplitExtract(split, extract, extract.clip_settings())({"task": dumps(task)})]
    assert len(rows) == 3 and all(t.record is None for t in rows)  # not extracted yet
    done = [extract(t) for t in rows]
    assert all(t.record is not None and t.record.clip.num_frames > 0 for t in done)


def test_one_clip_that_fails_to_encode_costs_only_that_clip(cut_video, tmp_path, monkeypatch):
    real = ExtractStage.encode_span

    def flaky(self, task, decoded, scratch):
        if task.span.start_frame == 40:
            raise RuntimeError("encoder blew up")
        return real(self, task, decoded, scratch)

    monkeypatch.setattr(ExtractStage, "encode_span", flaky)
    clips = _run(cut_video[0], tmp_path, *_stages())
    assert [c.reject_row.reason if c.reject_row else "ok" for c in clips] == ["ok", "stage_error", "ok"]
    assert "encoder blew up" in clips[1].reject_row.detail


def test_a_source_with_no_shot_is_one_reject_row_from_split(tmp_path):
    path = str(tmp_path / "grey.mp4")
    write(path, [np.full((96, 128, 3), 128, np.uint8)] * 40)  # every frame blank: no shot
    split, extract = _stages()
    split.limits = extract.limits = Limits(timeout_s=120)  # through the sandbox, as in a run
    task = ProbeStage(limits=None)(SourceTask(path=path, work_dir=str(tmp_path)))
    rows = [loads(r["task"]) for r in SplitExtract(split, extract, extract.clip_settings())({"task": dumps(task)})]
    assert len(rows) == 1 and rows[0].span is None and rows[0].n_in_source == 1
    assert [(r.stage, r.reason) for r in rows[0].source_rejects] == [("split", "no_shots")]
    assert not os.path.exists(tmp_path / "work")  # nothing was written for it


@pytest.mark.parametrize("share", [True, False])  # False: a PyAV without planar from_dlpack, copies held
@pytest.mark.parametrize("memory_mb", [0.0, 0.01, 1.0])  # all on disk, 2 of 3 in memory, all in memory
def test_frame_spill_reads_back_the_planes_and_colour_tags(tmp_path, monkeypatch, memory_mb, share):
    monkeypatch.setattr(spill_module, "shares_buffers", lambda: share)
    spill = FrameSpill(str(tmp_path / "f.yuv"), 64, 48, memory_mb=memory_mb)
    rng = np.random.default_rng(0)
    planes = [rng.integers(0, 256, (72, 64), dtype=np.uint8) for _ in range(3)]
    tags = [(1, 1), (1, 1), (6, 2)]  # BT.709 limited twice, then (joined files) BT.601 full range
    for p, (matrix, rng_) in zip(planes, tags):
        frame = av.VideoFrame.from_ndarray(p, format="yuv420p")
        frame.colorspace, frame.color_range = matrix, rng_
        spill.append(frame)
    spill.close()
    for i in (2, 0, 1):
        back = spill.frame(i)
        np.testing.assert_array_equal(back.to_ndarray(), planes[i])
        assert (int(back.colorspace), int(back.color_range)) == tags[i]
    on_disk = os.path.getsize(spill.path) if os.path.exists(spill.path) else 0
    assert on_disk == {0.0: 3, 0.01: 1, 1.0: 0}[memory_mb] * 64 * 72
    with pytest.raises(IndexError):
        spill.frame(3)
    with pytest.raises(ValueError, match="expected yuv420p 64x48"):
        spill.append(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24"))


@pytest.mark.parametrize("share", [True, False])
@pytest.mark.parametrize("height", [48, 50])  # 50: each chroma plane ends mid-row of the array
@pytest.mark.parametrize("memory_mb", [0.0, 1.0])
def test_frame_spill_reads_back_every_pixel_whatever_the_height(tmp_path, monkeypatch, height, memory_mb, share):
    monkeypatch.setattr(spill_module, "shares_buffers", lambda: share)
    spill = FrameSpill(str(tmp_path / "f.yuv"), 64, height, memory_mb=memory_mb)
    planes = np.random.default_rng(1).integers(0, 256, (height * 3 // 2, 64), dtype=np.uint8)
    spill.append(av.VideoFrame.from_ndarray(planes, format="yuv420p"))
    back = spill.frame(0)
    assert (back.width, back.height) == (64, height)
    np.testing.assert_array_equal(back.to_ndarray(), planes)
    want = av.VideoFrame.from_ndarray(planes, format="yuv420p").to_ndarray(format="rgb24")
    np.testing.assert_array_equal(back.to_ndarray(format="rgb24"), want)  # chroma read where it is


def test_frames_held_in_memory_share_pixels_not_timing_and_count_their_padding(tmp_path):
    # 456 px rows are padded to 464 in the frame's buffers: 180224 bytes, not 175104, a frame
    assert spill_module.shares_buffers()  # this machine's PyAV (18) can
    spill = FrameSpill(str(tmp_path / "f.yuv"), 456, 256, memory_mb=1.7)  # 10 frames unpadded, 9 padded
    planes = np.random.default_rng(2).integers(0, 256, (384, 456), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
    frame.colorspace = 1
    spill.append(frame)
    del frame  # the spill keeps the pixels alive
    assert spill.in_memory == 9
    a, b = spill.frame(0), spill.frame(0)
    a.pts, b.pts = 3, 7  # two encoders of one frame each set their own pts
    assert (a.pts, b.pts) == (3, 7) and int(b.colorspace) == 1
    assert a.planes[0].buffer_ptr == b.planes[0].buffer_ptr  # held, not copied
    np.testing.assert_array_equal(b.to_ndarray(), planes)
    spill.release()
    np.testing.assert_array_equal(a.to_ndarray(), planes)  # a frame read back outlives the spill's hold


def test_limits_add_split_and_extract_and_grow_with_length():
    split, extract = SplitStage(), ExtractStage()
    short = limits_for(split, extract, 60.0)
    assert short.timeout_s == split.limits.timeout_s + extract.limits.timeout_s
    assert limits_for(split, extract, 1500.0).timeout_s == 3 * short.timeout_s  # 25 min: 3 x 10 min
    assert limits_for(SplitStage(limits=None), ExtractStage(limits=None), 60.0) is None


def _two_shots(n=40, w=192, h=144):
    """A grey shot with a bright square moving right, then a hard cut to a synthetic scene."""
    frames = []
    for i in range(n):
        img = np.full((h, w, 3), 150, np.uint8)
        img[40:80, 4 * i:4 * i + 40] = (230, 200, 40)
        frames.append(img)
    frames += [render(31, i / 25, w, h, pan=(0.05, 0.0)) for i in range(n)]
    return frames


@pytest.mark.parametrize("kind", ["rotated", "vfr", "interlaced"])
def test_one_pass_equals_the_per_span_path_on_awkward_sources(tmp_path, kind):
    path = str(tmp_path / f"{kind}.mp4")
    frames = _two_shots()
    if kind == "rotated":  # stored sideways with a 90-degree display matrix
        encode(path, frames, fps=25, rotation=90)
    elif kind == "vfr":  # 40 ms then 30 ms frame intervals
        encode(path, frames, fps=25, pts=[40 * i if i < 40 else 1600 + 30 * (i - 40) for i in range(80)])
    else:
        write(path, field_frames(80, 192, 144, step=1), interlaced=True)
    one = _run(path, tmp_path / "one", *_stages())
    spans = _run(path, tmp_path / "spans", *_stages(one_pass=False))
    assert one and all(c.record is not None for c in one)
    assert [c.clip_id for c in one] == [c.clip_id for c in spans]
    if kind != "interlaced":  # bwdif after a seek lacks the field before the span: first frames differ
        assert [_digest(tmp_path / "one", c) for c in one] == [_digest(tmp_path / "spans", c) for c in spans]
    if kind == "rotated":
        assert (one[0].record.clip.width, one[0].record.clip.height) == (128, 170)  # upright, short side 128
    if kind != "interlaced":
        assert [(c.span.start_frame, c.span.end_frame) for c in one] == [(0, 40), (40, 80)]
    for a, b in zip(one, spans):
        assert a.record.clip.num_frames == b.record.clip.num_frames


def test_shots_of_two_rates_in_one_file_keep_their_own_rates(tmp_path):
    """A 25 fps shot joined to a 30 fps one (millisecond times: 33 and 34 ms) averages
    27.2 fps; its 30 fps clip had been retimed to it, losing 3 of its 40 frames (a break
    test): it keeps its own rate and every frame. The 25 fps shot keeps the source's rate
    (a lower rate is never taken: it may be a screen recording's still picture), the same
    by the one-decode pass and the per-span path."""
    path = str(tmp_path / "joined.mp4")
    encode(path, _two_shots(), fps=25, pts=[40 * i if i < 40 else 1600 + (100 * (i - 40)) // 3 for i in range(80)])
    one = _run(path, tmp_path / "one", *_stages(max_fps=60))
    spans = _run(path, tmp_path / "spans", *_stages(max_fps=60, one_pass=False))
    rate = one[0].source.fps
    assert rate == pytest.approx(80 / (1600 + 1333 + 33) * 1000, rel=0.02)  # about 27
    assert [(c.span.start_frame, c.span.end_frame) for c in one] == [(0, 40), (40, 80)]
    assert [c.record.clip.fps for c in one] == [rate, 30.0]
    assert one[1].record.clip.num_frames == 40  # 37 at the source's rate
    assert [_digest(tmp_path / "one", c) for c in one] == [_digest(tmp_path / "spans", c) for c in spans]


@pytest.mark.parametrize("kind", ["larger_than_clip", "interlaced"])
def test_the_per_span_path_detects_on_the_one_pass_frames(tmp_path, monkeypatch, kind):
    """A source off the one-decode path (``one_pass`` off, or a spill over ``spill_max_mb``)
    is split on the frames the one-decode path's detection sees. It had been split on its
    own decode, straight to the detection size and not deinterlaced, which moved a
    borderline dissolve between the paths (a helper's break test: 640x360 and interlaced
    sources, different spans and clip ids with ``one_pass`` on and off)."""
    from curate.split.shots import ShotDetector

    path = str(tmp_path / "src.mp4")
    if kind == "interlaced":
        write(path, field_frames(80, 192, 144, step=1), interlaced=True)
    else:
        encode(path, _two_shots(w=640, h=360), fps=25)
    fed: dict[str, list[str]] = {}
    real = ShotDetector.feed

    def recording(key):
        def feed(self, frame_bgr):
            fed.setdefault(key, []).append(hashlib.sha256(frame_bgr.tobytes()).hexdigest())
            return real(self, frame_bgr)
        return feed

    clips = {}
    for key, cfg in (("one", {}), ("spans", {"one_pass": False})):
        monkeypatch.setattr(ShotDetector, "feed", recording(key))
        clips[key] = _run(path, tmp_path / key, *_stages(**cfg))
    assert len(fed["one"]) == 80 and fed["spans"] == fed["one"]
    assert [c.clip_id for c in clips["one"]] == [c.clip_id for c in clips["spans"]]


@pytest.mark.parametrize("drop", [False, True])
def test_clips_leave_the_pass_without_samples_only_when_no_stage_after_it_needs_them(cut_video, tmp_path, drop):
    """With every clip stage fused into the pass, the clip rows carry metadata only (the
    samples are in the store already); otherwise the frame and motion samples go on."""
    from curate.embed import EmbedStage
    from curate.filter import FilterStage
    from curate.extract import frames_path
    from curate.frames_io import load_frames
    from curate.score import ScoreStage

    path, _ = cut_video
    split, extract = _stages()
    task = ProbeStage(limits=None)(SourceTask(path=path, work_dir=str(tmp_path)))
    then = [ScoreStage(), EmbedStage(), FilterStage()]
    rows = [loads(r["task"]) for r in SplitExtract(split, extract, extract.clip_settings(), then=then,
                                                     drop_samples=drop)({"task": dumps(task)})]
    assert len(rows) == 3 and all(r.record.scores.sharpness is not None and r.record.phash for r in rows)
    assert all({"score", "embed", "filter"} <= set(r.timings) for r in rows)
    assert all((r.frames is None and r.motion is None) == drop for r in rows)
    for r in rows:  # the frame sample itself is in the store either way
        frames, times = load_frames(frames_path(str(tmp_path), r.clip_id))
        assert frames.shape[0] == len(times) == 8
