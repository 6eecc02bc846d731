"""Frame times as FFmpeg guesses them, and the frame rate of a decode (curate/codec/timestamps.py).

Inputs with known truth: H.264 with B-frames stored in AVI (its packets carry times in
storage order, so decoded frames' pts come out of order while dts count up), and a
constant-rate transport stream cut in the middle of a GOP (its first decodable frame is
late), each with frames numbered so the clip's content can be checked frame by frame.
"""

import os

import numpy as np
import pytest

from curate.codec import iter_frames, probe
from curate.codec.timestamps import PtsGuess, frame_rate, snap_rate
from support.numbered import numbered_frames, read_numbers
from support.pipelines import make_pipeline, run_source as support_run_source
from support.synth import encode

PIPELINE = make_pipeline({"split": {"min_clip_s": 0.5}})


def run_source(path: str, work: str):
    """Probe, split and the per-clip stages in this process: (source task, clip tasks)."""
    return support_run_source(PIPELINE, path, work)


def test_pts_guess_takes_dts_when_pts_fail_more_often():
    g = PtsGuess()
    pairs = [(1, 2), (4, 3), (3, 4), (5, 5), (2, 6)]  # AVI with B-frames: pts reordered, dts count up
    for pts, dts in pairs:
        g.observe(pts, dts)
    assert (g.faulty_pts, g.faulty_dts) == (2, 0)
    assert [g.choose(p, d) for p, d in pairs] == [2, 3, 4, 5, 6]
    assert g.choose(9, None) is None  # untrusted pts and no dts: the caller steps one frame on
    ok = PtsGuess()
    for pts, dts in [(0, -2), (3, -1), (1, 0), (2, 1)]:  # MP4 with B-frames: pts true, dts in decode order
        ok.observe(pts, dts)
    assert ok.faulty_pts == 1 and ok.faulty_dts == 0  # the reordering looks like one fault...
    clean = PtsGuess()
    for pts, dts in [(0, -2), (1, -1), (2, 0), (3, 1)]:  # ...but decoded frames come out in order
        clean.observe(pts, dts)
    assert clean.choose(4, 2) == 4


def test_frame_rate_of_constant_variable_and_gappy_times():
    assert frame_rate([]) is None and frame_rate([0.5]) is None
    late = [0.44 + k / 25 for k in range(100)]  # a TS cut mid-GOP: first frame 0.44 s in
    assert frame_rate(late) == pytest.approx(25.0)
    gappy = [k / 30 for k in range(120) if k % 20 != 7]  # 6 frames lost in 4 s
    assert frame_rate(gappy) == pytest.approx(30.0)
    vfr = list(np.cumsum([0.0] + [0.02, 0.05] * 50))  # alternating intervals: no steady rate
    assert frame_rate(vfr) == pytest.approx(100 / vfr[-1])
    # Matroska/WebM/FLV time frames in whole milliseconds: 41, 42, 42 ms for 24 fps
    assert frame_rate([round(k / 24, 3) for k in range(240)]) == 24.0  # median alone: 23.81
    assert frame_rate([round(k * 1001 / 24000, 3) for k in range(150)]) == pytest.approx(24000 / 1001)
    assert frame_rate([round(k / 30, 3) for k in range(90)]) == 30.0  # median alone: 30.303
    assert frame_rate([round(k / 30, 3) for k in range(40)]) == frame_rate([round(k / 30, 3) for k in range(90)])


def test_a_jittery_recording_that_holds_still_frames_keeps_its_motions_rate():
    """A break test: a 30 fps screen recording with +-5 ms jitter and 2 s still stretches
    (no frame sent) was given 7.5 fps, its frames over its whole time."""
    rng = np.random.default_rng(4)
    times, t = [], 0.0
    for part in range(4):
        for _ in range(30):
            times.append(t)
            t += 1 / 30 + rng.uniform(-0.005, 0.005)
        t += 2.0
    assert frame_rate(times) == 30.0
    bursts = list(np.cumsum([0.0] + [0.1] * 60 + [1 / 60] * 30))  # mostly 10 fps, a 60 fps burst
    assert frame_rate(bursts) == pytest.approx(90 / bursts[-1])  # intervals per second: higher than 10


@pytest.mark.parametrize("n", [24, 30, 60])
@pytest.mark.parametrize("tb", [1000, 24000, 90000])
def test_ntsc_rates_stay_ntsc_at_any_time_base(n, tb):
    """A break test: 29.97, 23.976 and 59.94 fps are 0.1 % from 30, 24 and 60, exactly the
    snap's reach; whichever came first won (24.0 at 1/90000, 30.0 at 1/24000)."""
    ntsc = n * 1000 / 1001
    assert frame_rate([round(k * tb / ntsc) / tb for k in range(300)]) == pytest.approx(ntsc, rel=1e-6)
    assert frame_rate([round(k * tb / n) / tb for k in range(300)]) == n  # a whole rate stays whole
    assert snap_rate(ntsc) == pytest.approx(ntsc) and snap_rate(float(n)) == n and snap_rate(n + 0.01) == n


def test_avi_with_b_frames_times_every_frame_once(tmp_path):
    path = str(tmp_path / "bframes.avi")
    n = encode(path, numbered_frames(72), fps=25, options={"bf": "3", "crf": "16"})
    times = [f.t_s for f in iter_frames(path, fmt="gray")]
    assert len(times) == n == 72
    assert np.allclose(np.diff(times), 0.04)  # before: jumps back and forth read as clock resets
    assert not any(f.shifted for f in iter_frames(path, fmt="gray"))
    assert probe(path).fps == pytest.approx(25.0)
    task, clips = run_source(path, str(tmp_path))
    assert task.source.fps == pytest.approx(25.0) and not task.source.timestamps_reset
    assert task.source.duration_s == pytest.approx(0.08 + 72 * 0.04)  # the first dts is 2 ticks in
    (clip,) = clips
    rec = clip.record
    assert rec.clip.fps == pytest.approx(25.0)
    shown = read_numbers(os.path.join(tmp_path, "clips", f"{rec.clip_id}.mp4"))
    # every source frame once, in order (before: 7 s at 10 fps, each frame shown 3 times, every other one lost)
    assert len(shown) > 60 and shown == list(range(shown[0], shown[0] + len(shown)))


def test_transport_stream_cut_mid_gop_keeps_its_rate(tmp_path):
    whole = str(tmp_path / "whole.ts")
    encode(whole, numbered_frames(150), fmt="mpegts", fps=25, options={"g": "50", "crf": "16"})
    data = open(whole, "rb").read()
    cut = str(tmp_path / "cut.ts")
    with open(cut, "wb") as f:
        f.write(data[len(data) // 4 // 188 * 188:])  # whole TS packets, from the middle of a GOP
    task, clips = run_source(cut, str(tmp_path))
    assert task.source.fps == pytest.approx(25.0)  # before: 22.5 (frames over time from the stream start)
    assert task.spans[0].start_s > 0.1  # the first frame that decodes is late
    (clip,) = clips
    shown = read_numbers(os.path.join(tmp_path, "clips", f"{clip.record.clip_id}.mp4"))
    assert clip.record.clip.fps == pytest.approx(25.0)
    assert len(shown) > 80 and shown == list(range(shown[0], shown[0] + len(shown)))  # none skipped


def test_raw_h264_elementary_stream_is_timed_at_its_nominal_rate(tmp_path):
    path = str(tmp_path / "raw.h264")  # listed by --input-list: no container, no timestamps
    encode(path, numbered_frames(60), fmt="h264", fps=30, options={"bf": "0", "crf": "16"})
    p = probe(path)  # before: rejected as truncated ("no video packets": none had a pts)
    assert (p.num_frames, p.fps) == (60, pytest.approx(30.0))  # the SPS's rate, not the demuxer's 25
    task, clips = run_source(path, str(tmp_path))
    assert task.rejects == [] and task.source.duration_s == pytest.approx(2.0)
    (clip,) = clips
    shown = read_numbers(os.path.join(tmp_path, "clips", f"{clip.record.clip_id}.mp4"))
    assert len(shown) > 50 and shown == list(range(shown[0], shown[0] + len(shown)))


def test_matroska_millisecond_times_keep_the_spans_last_frame(tmp_path):
    """Matroska stores times in milliseconds: the shot after a cut at frame 47 of 30 fps
    starts at 1.567 s (1.5667 rounded up), so its span is 0.03 frames short of whole by its
    times. Every frame of the span is in the clip (before: the last one was lost)."""
    from support.synth import render

    path = str(tmp_path / "cut.mkv")
    first = (render(11, k / 30, 160, 120) for k in range(47))
    encode(path, [*first, *numbered_frames(133)], fmt="matroska", fps=30, options={"crf": "16", "bf": "2"})
    task, clips = run_source(path, str(tmp_path))
    last = max(clips, key=lambda c: c.record.span.start_frame)
    rec = last.record
    assert rec.span.start_frame >= 47 and rec.span.end_frame == 180
    assert round(rec.span.start_s * 1000) == round(rec.span.start_frame / 30 * 1000)  # the ms time
    assert rec.clip.num_frames == rec.span.num_frames
    shown = read_numbers(os.path.join(tmp_path, "clips", f"{rec.clip_id}.mp4"))
    assert shown == list(range(rec.span.start_frame - 47, 133))  # to the source's last frame, each once
