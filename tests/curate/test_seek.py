"""A span decoded after a seek has the frames of a decode from the start (the per-span
extract path and the one-decode pass must give the same clip bytes)."""

import hashlib

import av
import pytest

from curate.codec import iter_frames, probe
from curate.codec.interlace import is_interlaced
from support.synth import encode, render


def _digests(frames):
    return [(round(f.t_s, 4), hashlib.sha256(f.image.to_ndarray().tobytes()).hexdigest()) for f in frames]


def _ts_source(path):
    """12 s of a panning picture, H.264 in MPEG-TS, a keyframe every 48 frames (1.92 s):
    FFmpeg's seek in a TS file (by byte position) lands after the keyframe it was asked for."""
    frames = (render(107, i / 25, 320, 180, (0.15, 0.02), 0.0, 0.05) for i in range(300))
    encode(path, frames, fps=25, fmt="mpegts",
           options={"crf": "18", "preset": "ultrafast", "x264-params": "mbtree=0:keyint=48:scenecut=0"})


def _ts_b_frames_source(path):
    """12 s of H.264 with B-frames in MPEG-TS: the first keyframe decodes before it shows,
    so a seek to the stream's start time lands after it (a span in the first GOP must be
    decoded from a second before the start)."""
    frames = (render(107, i / 25, 320, 180, (0.15, 0.02), 0.0, 0.05) for i in range(300))
    encode(path, frames, fps=25, fmt="mpegts", options={
        "crf": "23", "preset": "fast",
        "x264-params": "mbtree=0:keyint=50:min-keyint=50:scenecut=0:bframes=3:b-pyramid=normal"})


def _raw_mpeg2_source(path):
    """8 s raw MPEG-2 elementary stream: no start time, no timestamps to seek by."""
    frames = (render(107, i / 25, 320, 180, (0.15, 0.02), 0.0, 0.05) for i in range(200))
    encode(path, frames, fps=25, codec="mpeg2video", fmt="mpeg2video", options={"g": "50", "bf": "2", "b": "2M"})


def _interlaced_source(path):
    """10 s of a panning picture coded interlaced (top field first) in H.264, a keyframe
    every 50 frames: a span that starts on a keyframe needs the frame before it for the
    deinterlacer (bwdif), as the decode from the start has it."""
    frames = (render(101, i / 25, 320, 256, (0.15, 0.02), 0.0, 0.05) for i in range(250))
    encode(path, frames, fps=25, options={
        "crf": "18", "preset": "ultrafast", "flags": "+ildct+ilme",
        "x264-params": "mbtree=0:interlaced=1:tff=1:keyint=50:min-keyint=50:scenecut=0"})


def _lying_index_source(path):
    """10 s of MPEG-4 Part 2 in AVI, a keyframe every 100 frames, with every packet marked
    a keyframe in the index (as some muxers write it): a seek lands on a predicted frame."""
    with av.open(path, "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.pix_fmt, s.width, s.height = "yuv420p", 320, 180
        s.codec_context.options = {"b": "2M", "g": "100", "bf": "0", "sc_threshold": "1000000000"}
        for i in range(250):
            frame = av.VideoFrame.from_ndarray(render(107, i / 25, 320, 180, (0.15, 0.02), 0.0, 0.05), format="rgb24")
            frame.pts = i
            for packet in s.encode(frame):
                packet.is_keyframe = True
                c.mux(packet)
        for packet in s.encode(None):
            packet.is_keyframe = True
            c.mux(packet)


@pytest.fixture(scope="module")
def decoded(tmp_path_factory):
    """``decoded(make, ext)``: a source made once per module, its decode settings and the
    frames of its full decode."""
    made = {}

    def get(make, ext):
        if make not in made:
            path = str(tmp_path_factory.mktemp("seek") / f"src.{ext}")
            make(path)
            src = probe(path)
            assert (ext == "mp4") == is_interlaced(src.field_order)
            kw = dict(size=(320, 256) if ext == "mp4" else (256, 144), fmt="yuv420p",
                      stream_index=src.stream_index, field_order=src.field_order)
            made[make] = path, kw, list(iter_frames(path, **kw))
        return made[make]
    return get


@pytest.mark.parametrize("make,ext,first,last", [
    (_ts_source, "ts", 150, 300), (_ts_source, "ts", 60, 200),
    (_ts_source, "ts", 299, 300),  # the last frame: the seek lands past the last keyframe
    (_ts_b_frames_source, "ts", 1, 20), (_ts_b_frames_source, "ts", 47, 60),
    (_raw_mpeg2_source, "m2v", 100, 130),
    (_interlaced_source, "mp4", 200, 250),
    (_lying_index_source, "avi", 130, 160), (_lying_index_source, "avi", 230, 250)])
def test_a_span_after_a_seek_has_the_frames_of_a_full_decode(decoded, make, ext, first, last):
    path, kw, full = decoded(make, ext)
    start, end = full[first].t_s, full[last].t_s if last < len(full) else None
    span = list(iter_frames(path, start_s=start, end_s=end, **kw))
    assert len(span) == last - first
    assert _digests(span) == _digests(full[first:last])
