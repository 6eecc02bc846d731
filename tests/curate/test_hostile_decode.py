"""Hostile inputs that decode: AV1, 10-bit HEVC, odd-sized 4:4:4, WebM from a pipe,
variable frame rate, the prefix of a cut file, joined recordings whose clocks restart,
a blank source, a thin strip and a long 1080p source (in bounded memory) give even
yuv420p clips of their true length, or the reject row of a source with no shot."""

import os
import subprocess
import sys

import numpy as np
import pytest

from curate.codec import iter_frames, probe
from support.hostile import make_all, run_source


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return make_all(str(tmp_path_factory.mktemp("hostile")))


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


def test_a_matroska_file_damaged_inside_keeps_its_start_and_a_row_for_the_rest(hostile, tmp_path):
    """A break test: 30 KB of garbage in the middle of a whole-sized MKV ended FFmpeg's demux
    there, and the first 1.8 s of 4 were kept as the whole source, with no row."""
    task, clips = run_source(hostile["damaged mkv"], str(tmp_path))
    assert [(r.stage, r.reason) for r in task.rejects] == [("split", "partially_decoded")]
    row, n = task.rejects[0], task.source.num_frames
    assert 10 < n < 110 and task.source.partial
    assert row.detail.startswith(f"decoded {n} of 120 frames ({120 - n} lost)")
    assert "damaged inside: its header states 4.000 s, and reading stops at" in row.detail
    assert (row.span.start_frame, row.span.end_frame) == (n, 120)
    assert row.span.end_s == pytest.approx(4.0, abs=0.01)
    assert row.duration_s == pytest.approx(4.0 - task.source.duration_s, abs=0.01)
    assert sum(c.record.clip.duration_s for c in clips) == pytest.approx(task.source.duration_s, abs=0.04)


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
    # scored: ramps 256 px long have little detail, and a 16-px picture is judged at 112 px: blurry
    assert len(clips) == 1 and clips[0].reject_row.reason == "blurry", clips[0].reject_row
    assert clips[0].record.scores.motion > 0
