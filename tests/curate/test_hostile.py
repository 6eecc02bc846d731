"""Hostile inputs: every one becomes clips or a reject row with the right reason."""

import os
import subprocess
import sys

import numpy as np
import pytest

from curate.codec import iter_frames, probe
from curate.ids import clip_id
from curate.tasks import ClipTask, SourceTask
from support.hostile import make_all
from support.pipelines import make_pipeline

PIPELINE = make_pipeline({"split": {"min_clip_s": 0.5}})


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return make_all(str(tmp_path_factory.mktemp("hostile")))


def run_source(path: str, work: str):
    """Probe, split and the per-clip stages in this process: (source task, clip tasks)."""
    task = SourceTask(path=path, work_dir=work)
    for stage in PIPELINE.stages[:2]:
        task = stage(task)
    clips = []
    if not task.rejected:
        ex = PIPELINE.stages[2]
        for span in task.spans:
            ct = ClipTask(source=task.source, span=span, work_dir=work, source_path=path,
                          clip_id=clip_id(task.source.source_id, span.start_frame, span.end_frame,
                                          ex.clip_settings()))
            for stage in PIPELINE.clip_stages():
                ct = stage(ct)
            clips.append(ct)
    return task, clips


@pytest.mark.parametrize("case,reason", [
    ("audio only", "no_video_stream"),
    ("cut back moov", "truncated"),
    ("cut inside back moov", "truncated"),  # had been no_video_stream (break test)
    ("cut inside front moov", "truncated"),
    ("noise", "decode_error"),
    ("single", "too_short"),
    ("cut mkv tiny", "truncated"),  # 4 s in its header, a few frames decode: not too_short
    ("cut mkv header", "truncated"),  # cut inside its header: was decode_error (break test)
])
def test_rejected_once_with_reason(hostile, tmp_path, case, reason):
    task, clips = run_source(hostile[case], str(tmp_path))
    assert [(r.stage, r.reason) for r in task.rejects] == [("probe", reason)]
    assert clips == []


def test_a_source_the_store_refuses_is_a_stage_error_a_missing_one_not_found(tmp_path, monkeypatch):
    """Access denied (s3fs raises PermissionError for a 403) was ``not_found`` and stayed
    so after the permission was fixed (break test); it is the worker's environment, a
    ``stage_error`` as docs/cluster.md says. A missing file or a folder stays ``not_found``."""
    import curate.probe as probe_mod
    from curate.probe import ProbeStage

    def refused(path):
        raise PermissionError("Forbidden")

    (tmp_path / "dir.mp4").mkdir()
    for path, reason in ((str(tmp_path / "gone.mp4"), "not_found"), (str(tmp_path / "dir.mp4"), "not_found")):
        task = ProbeStage(limits=None)(SourceTask(path=path, work_dir=""))
        assert [r.reason for r in task.rejects] == [reason], path
    (tmp_path / "empty.mp4").write_bytes(b"")
    task = ProbeStage(limits=None)(SourceTask(path=str(tmp_path / "empty.mp4"), work_dir=""))
    assert [(r.reason, r.detail) for r in task.rejects] == [("truncated", "the file is empty (0 bytes)")]
    monkeypatch.setattr(probe_mod, "source_fingerprint", refused)
    (tmp_path / "deny.mkv").write_bytes(b"x")
    task = ProbeStage(limits=None)(SourceTask(path=str(tmp_path / "deny.mkv"), work_dir=""))  # in this process
    assert [(r.reason, r.detail) for r in task.rejects] == [("stage_error", "PermissionError: Forbidden")]


def test_a_cut_mp4_read_from_a_store_url_is_truncated_too(hostile, tmp_path):
    """The moov check read local paths only: the same cut file from s3:// was a
    decode_error (found by a break test). A memory:// URL goes through the same fsspec path."""
    import fsspec

    from curate.codec import CodecError
    from curate.codec.isobmff import is_truncated_mp4

    fs = fsspec.filesystem("memory")
    with open(hostile["cut back moov"], "rb") as f:
        fs.pipe(f"/{tmp_path.name}/cut.mp4", f.read())
    with open(hostile["single"], "rb") as f:  # a whole mp4: not cut
        fs.pipe(f"/{tmp_path.name}/whole.mp4", f.read())
    url = f"memory://{tmp_path.name}/cut.mp4"
    assert is_truncated_mp4(url) and is_truncated_mp4(hostile["cut back moov"])
    assert not is_truncated_mp4(f"memory://{tmp_path.name}/whole.mp4")
    assert not is_truncated_mp4(f"memory://{tmp_path.name}/gone.mp4")
    with pytest.raises(CodecError) as err:
        probe(url)
    assert err.value.reason == "truncated"


def test_a_cut_mkv_without_a_duration_gets_its_row_from_the_bytes(hostile, tmp_path):
    """A Matroska file whose header gives the Segment's size but no Duration (4 s, 120
    frames), cut at 60 % of its bytes: its 65 frames are kept as before, and the lost part
    is now a ``partially_decoded`` row, its length estimated from the bytes the header
    declares beyond the file's end (it had kept the prefix with no row). The same file
    whole gives no row."""
    task, clips = run_source(hostile["cut mkv no duration"], str(tmp_path / "cut"))
    assert len(clips) == 1 and task.source.partial and task.source.num_frames == 65
    [row] = task.rejects
    assert (row.stage, row.reason) == ("split", "partially_decoded")
    assert "cut short" in row.detail and "no duration in its header" in row.detail
    assert row.span.start_frame == 65 and 100 <= row.span.end_frame <= 140  # 120 in truth: an estimate
    assert row.span.end_s == pytest.approx(4.0, rel=0.2)
    whole, clips = run_source(hostile["whole no duration"], str(tmp_path / "whole"))
    assert len(clips) == 1 and whole.rejects == [] and not whole.source.partial
    assert whole.source.num_frames == 120


def _clip_frames(tmp_path, ct):
    return sum(1 for _ in iter_frames(os.path.join(tmp_path, "clips", f"{ct.clip_id}.mp4")))


@pytest.mark.parametrize("case,frames,duration,width,height", [
    ("av1", 60, 2.0, 160, 120),            # decoded with dav1d
    ("hevc10", 60, 2.0, 160, 120),         # 10-bit HEVC -> 8-bit yuv420p H.264
    ("pipe", 90, 3.0, 160, 120),           # WebM without duration or frame count
    ("long audio", 60, 2.0, 160, 120),     # audio track 5 s, video 2 s
    ("yuv444 odd", 60, 2.0, 160, 120),     # 161x121 4:4:4 -> even 4:2:0
    ("cut front moov", 55, 55 / 30, 160, 120),  # container claims 120 frames; 55 decode
    ("cut mkv", 65, 65 / 30, 160, 120),  # Matroska cut short: its header says 4 s (break test)
    ("cut in audio mkv", 60, 2.0, 160, 120),  # cut where only the longer audio is: no row
    ("cut in audio mkv no duration", 60, 2.0, 160, 120),  # the same without a duration in its header
])
def test_decodes_to_even_yuv420p_clips_with_true_length(hostile, tmp_path, case, frames, duration, width, height):
    task, clips = run_source(hostile[case], str(tmp_path))
    assert len(clips) == 1
    if case in ("cut front moov", "cut mkv"):  # the prefix is kept; the part the container states beyond is a row
        assert [(r.stage, r.reason) for r in task.rejects] == [("split", "partially_decoded")]
        row = task.rejects[0]
        assert row.detail.startswith(f"decoded {frames} of 120 frames ({120 - frames} lost)")
        assert "cut short" in row.detail
        assert (row.span.start_frame, row.span.end_frame) == (frames, 120)
        assert row.span.end_s == pytest.approx(4.0, abs=0.01) and task.source.partial
    else:
        assert task.rejects == [] and not task.source.partial
    assert task.source.num_frames == frames
    assert task.source.duration_s == pytest.approx(duration, abs=0.02)
    ct = clips[0]
    assert ct.reject_row is None, ct.reject_row
    rec = ct.record
    assert (rec.clip.width, rec.clip.height) == (width, height)
    # every frame that decodes, also the cut MKV's last (its millisecond times made the span
    # 64.98 frames long, and the clip had lost it)
    assert rec.clip.num_frames == _clip_frames(tmp_path, ct) == frames
    assert ct.frame_times[-1] < rec.clip.duration_s  # sampled frames never past what decodes
    p = probe(os.path.join(tmp_path, "clips", f"{ct.clip_id}.mp4"))
    assert (p.codec, p.pix_fmt) == ("h264", "yuv420p")


def test_a_decode_that_fails_at_the_cut_of_an_mp4_cut_short_counts_what_its_index_lists(hostile, tmp_path):
    """An interrupted download of an MP4 with its index at the front: where the decoder
    fails on the last, partial packet (it did in the one-decode pass on real footage), the
    lost part is what the index lists past the cut, not just the packets the probe found
    before it (a break test: a row of 0.72-0.84 s for a 3 s file, and hours_in short)."""
    from curate.codec import CodecError
    from curate.probe import ProbeStage
    from curate.split.stage import _cut_short
    from support.hostile import truncate

    cut = str(tmp_path / "cut.mp4")
    truncate(hostile["front"], cut, 0.45)
    src = ProbeStage(limits=None)(SourceTask(path=cut, work_dir=str(tmp_path))).source
    assert src is not None and src.num_frames < 120
    times = [i / 30 for i in range(src.num_frames - 3)]  # the decode failed three frames before the probe's count
    failure = CodecError("decode_error", "Invalid data found when processing input")
    expected, failed = _cut_short(cut, src, times, len(times) / 30, [(failure, times[-1])])
    assert (expected.num_frames, expected.duration_s) == (120, pytest.approx(4.0, abs=0.01))
    [(error, at)] = failed
    assert error.reason == "truncated" and "its index lists 120 frames" in str(error) and at == times[-1]
    whole = ProbeStage(limits=None)(SourceTask(path=hostile["front"], work_dir=str(tmp_path))).source
    assert _cut_short(hostile["front"], whole, times, 1.0, [(failure, 1.0)]) == (whole, [(failure, 1.0)])


def test_claimed_frame_count_is_not_trusted(hostile):
    import av
    with av.open(hostile["cut front moov"]) as c:
        assert c.streams.video[0].frames == 120  # what the container says
    assert probe(hostile["cut front moov"]).num_frames < 120


def test_webm_from_a_pipe_is_counted(hostile):
    p = probe(hostile["pipe"])
    assert p.num_frames == 90 and p.duration_s == pytest.approx(3.0) and p.codec == "vp9"


def test_variable_frame_rate_keeps_timestamps(hostile, tmp_path):
    task, clips = run_source(hostile["vfr"], str(tmp_path))
    assert task.source.vfr
    assert task.source.duration_s == pytest.approx(2.7, abs=0.01)  # 60 x 20 ms + 29 x 50 ms + last
    rec = clips[0].record
    assert rec.clip.duration_s == pytest.approx(2.7, abs=0.04)  # constant-rate output, same length
    assert rec.clip.num_frames == _clip_frames(tmp_path, clips[0])


def test_memory_stays_bounded_on_a_long_1080p_source(tmp_path):
    """10 s of 1080p with only 8 frames sampled: the split and extract passes decode one
    frame at a time and resize in swscale, so peak RSS grows by far less than the 1.9 GB
    that 300 decoded RGB frames would take (bound checked: 600 MB)."""
    script = f"""
import resource, sys, numpy as np
sys.path.insert(0, {os.path.dirname(os.path.dirname(__file__))!r})
from support.hostile import encode
base = np.random.default_rng(0).integers(0, 255, (1080 // 8, 1920 // 8, 3), dtype=np.uint8)
big = np.kron(base, np.ones((8, 8, 1), np.uint8))
encode({str(tmp_path / 'hd.mp4')!r}, (np.roll(big, 4 * i, axis=1) for i in range(300)), options={{'preset': 'ultrafast'}})
from support.pipelines import make_pipeline
from curate.tasks import SourceTask, ClipTask
p = make_pipeline({{'split': {{'limits': None}}, 'extract': {{'limits': None}}, 'probe': {{'limits': None}}}})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = SourceTask(path={str(tmp_path / 'hd.mp4')!r}, work_dir={str(tmp_path)!r})
for s in p.stages[:2]:
    t = s(t)
for span in t.spans:
    c = ClipTask(source=t.source, span=span, clip_id='c' + str(span.start_frame), work_dir={str(tmp_path)!r})
    for s in p.clip_stages():
        c = s(c)
    assert c.reject_row is None, c.reject_row
print(t.source.num_frames, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    frames, grown_mb = map(int, out.stdout.split())
    assert frames == 300
    print(f"peak RSS grew by {grown_mb} MB")
    assert grown_mb < 600, f"peak RSS grew by {grown_mb} MB"


def test_blank_source_is_rejected_not_lost(tmp_path):
    from support.hostile import encode

    path = str(tmp_path / "black.mp4")
    encode(path, (np.zeros((120, 160, 3), np.uint8) for _ in range(90)))
    task, clips = run_source(path, str(tmp_path))
    assert [(r.stage, r.reason) for r in task.rejects] == [("split", "no_shots")] and clips == []


def test_joined_files_with_restarting_clocks_keep_both_parts(tmp_path):
    from support.hostile import encode

    parts = []
    from support.synth import render

    for i, channel in enumerate((0, 2)):  # a red-tinted part, then a blue-tinted one
        part = str(tmp_path / f"p{i}.ts")
        frames = [render(61 + i, j / 30, 160, 120) for j in range(60)]
        for f in frames:
            f[..., channel] = 255
        encode(part, frames, fmt="mpegts")
        parts.append(open(part, "rb").read())
    joined = str(tmp_path / "joined.ts")
    with open(joined, "wb") as f:
        f.write(b"".join(parts))
    task, clips = run_source(joined, str(tmp_path))
    assert task.source.timestamps_reset and task.source.num_frames == 120
    assert [c.span.start_frame < 60 for c in clips] == [True, False]
    for ct, blue in zip(clips, (False, True)):
        assert ct.reject_row is None and ct.record.clip.duration_s > 1.0
        first = next(iter_frames(os.path.join(tmp_path, "clips", f"{ct.clip_id}.mp4"))).image
        assert (first[..., 2].mean() > first[..., 0].mean()) == blue


def test_a_recording_joined_to_itself_is_cut_where_its_clock_restarts(tmp_path):
    """The same 2.4 s take twice in one transport stream: nothing in the pictures marks the
    join, only the clock going back. It had been one clip across the join, the second
    take's first frame following the first take's last (a break test); the decoder's
    shifted times had hidden the restart from the span planner."""
    from curate.codec.decode import iter_frames as frames_of
    from support.hostile import encode
    from support.synth import render

    part = str(tmp_path / "take.ts")
    encode(part, [render(7, j / 25, 160, 120) for j in range(60)], fmt="mpegts")
    joined = str(tmp_path / "twice.ts")
    with open(part, "rb") as f, open(joined, "wb") as out:
        out.write(f.read() * 2)
    decoded = list(frames_of(joined, size=(80, 60), fmt="gray"))
    assert [f.index for f in decoded if f.discontinuity] == [60]
    assert all(b.t_s > a.t_s for a, b in zip(decoded, decoded[1:]))  # times still increase
    task, clips = run_source(joined, str(tmp_path))
    assert task.source.timestamps_reset and task.source.num_frames == 120
    spans = [(c.span.start_frame, c.span.end_frame) for c in clips]
    assert all(z <= 60 or a >= 60 for a, z in spans), spans  # no clip across the join
    (a0, z0), (a1, z1) = spans  # one clip a take, each trimmed at the cut (trim_s)
    assert a0 == 0 and 55 <= z0 <= 60 and 60 <= a1 <= 65 and z1 == 120, spans


def test_a_thin_strip_video_is_scored(tmp_path):
    from support.hostile import encode

    path = str(tmp_path / "strip.mp4")
    encode(path, (np.roll(np.tile(np.arange(2000, dtype=np.uint8)[None, :, None], (16, 1, 3)), 8 * i, 1)
                  for i in range(60)))
    task, clips = run_source(path, str(tmp_path))
    assert len(clips) == 1 and clips[0].reject_row is None, clips[0].reject_row
    assert clips[0].record.scores.motion > 0
