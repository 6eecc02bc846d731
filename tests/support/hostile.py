"""Hostile inputs made on purpose, each with a known expected outcome.

Built with PyAV's encoders (libx264, libx265, SVT-AV1, libvpx-vp9, AAC); every file is
small (at most a few seconds at 160x120 unless the case needs more). :func:`run_source`
runs the stages of :data:`PIPELINE` on one of them in this process.
"""

from __future__ import annotations

import io
import os

import av
import numpy as np

from curate.ids import clip_id
from curate.tasks import ClipTask, SourceTask
from support.pipelines import make_pipeline
from support.synth import encode, render

PIPELINE = make_pipeline({"split": {"min_clip_s": 0.5}})


def _frames(n: int, w: int = 160, h: int = 120, seed: int = 7):
    for i in range(n):
        yield render(seed, i / 30, w, h, pan=(0.05, 0.0))


def with_audio(path: str, video_s: float, audio_s: float, fps: int = 30) -> None:
    """H.264 video of ``video_s`` seconds with an AAC track of ``audio_s`` seconds."""
    with av.open(path, "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = 160, 120, "yuv420p"
        a = c.add_stream("aac", rate=16000)
        for img in _frames(int(video_s * fps)):
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
        _silence(c, a, audio_s)


def _silence(container, stream, seconds: float) -> None:
    """Encode ``seconds`` of mono silence (16 kHz AAC) into ``stream``."""
    chunk = np.zeros((1, 1024), np.float32)
    for i in range(int(seconds * 16000 / 1024)):
        fr = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        fr.sample_rate, fr.pts = 16000, i * 1024
        for p in stream.encode(fr):
            container.mux(p)
    for p in stream.encode(None):
        container.mux(p)


def webm_pipe(path: str, seconds: float = 3.0, fps: int = 30, fmt: str = "webm") -> None:
    """VP9 WebM written to a non-seekable stream: no duration, no cues, no frame count;
    ``fmt="avi"``: MPEG-4 in an AVI whose sizes and frame count were never written
    (FFmpeg leaves 0xFFFFFFFF and 2**30 there)."""
    class Pipe(io.RawIOBase):
        def __init__(self):
            self.buf = bytearray()

        def writable(self):
            return True

        def seekable(self):
            return False

        def write(self, b):
            self.buf += b
            return len(b)

    pipe = Pipe()
    if fmt == "avi":
        encode(pipe, _frames(int(seconds * fps)), fmt="avi", codec="mpeg4", fps=fps)
    else:
        encode(pipe, _frames(int(seconds * fps)), fmt="webm", codec="libvpx-vp9", fps=fps,
               options={"deadline": "realtime", "cpu-used": "8"})
    with open(path, "wb") as f:
        f.write(bytes(pipe.buf))


def truncate(src: str, dst: str, keep: float) -> None:
    """Copy the first ``keep`` fraction of ``src``'s bytes to ``dst``."""
    data = open(src, "rb").read()
    with open(dst, "wb") as f:
        f.write(data[: int(len(data) * keep)])


def damage(src: str, dst: str, at: float | int, length: int, seed: int = 1) -> None:
    """Copy ``src`` to ``dst`` with ``length`` random bytes written over it from ``at`` on
    (a fraction of its size, or an ``int`` byte offset): a damaged copy of the same size (a
    bad card, a bad transfer)."""
    data = bytearray(open(src, "rb").read())
    start = at if isinstance(at, int) else int(len(data) * at)
    data[start:start + length] = np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8).tobytes()
    with open(dst, "wb") as f:
        f.write(bytes(data))


def drop_duration(src: str, dst: str) -> None:
    """Copy the Matroska file ``src`` to ``dst`` with its ``Duration`` element (ID 0x4489, in
    the Segment's ``Info``) overwritten by a ``Void`` element of the same length: a file whose
    header gives the Segment's size but no duration, as some muxers write it."""
    data = bytearray(open(src, "rb").read())
    at = data.find(b"\x44\x89", 0, 4096)
    size = data[at + 2]
    if at < 0 or not size & 0x80:
        raise ValueError(f"{src}: no one-byte-size Duration element in its header")
    total = 3 + (size & 0x7F)  # ID (2), size (1), value
    data[at:at + total] = bytes([0xEC, 0x80 | (total - 2)]) + bytes(total - 2)
    with open(dst, "wb") as f:
        f.write(bytes(data))


def cut_in_moov(src: str, dst: str, into: int) -> None:
    """Copy the MP4 ``src`` to ``dst`` cut ``into`` bytes after the start of its ``moov``
    box (a download stopped inside the index)."""
    data = open(src, "rb").read()
    at = data.find(b"moov")
    if at < 0:
        raise ValueError(f"{src}: no moov box")
    with open(dst, "wb") as f:
        f.write(data[:at + into])


def make_all(root: str) -> dict[str, str]:
    """Write every hostile case into ``root``; returns {case: path}."""
    os.makedirs(root, exist_ok=True)
    p = lambda name: os.path.join(root, name)  # noqa: E731
    encode(p("front.mp4"), _frames(120), container_options={"movflags": "+faststart"})
    truncate(p("front.mp4"), p("cut front moov.mp4"), 0.6)
    moov = open(p("front.mp4"), "rb").read().find(b"moov") - 4
    damage(p("front.mp4"), p("damaged front moov.mp4"), moov, 400)  # over the index of a whole file
    encode(p("back.mp4"), _frames(120))
    truncate(p("back.mp4"), p("cut back moov.mp4"), 0.6)
    cut_in_moov(p("back.mp4"), p("cut inside back moov.mp4"), 50)  # FFmpeg reads no stream, or a data one
    cut_in_moov(p("front.mp4"), p("cut inside front moov.mp4"), 200)
    webm_pipe(p("pipe.webm"))
    encode(p("whole.mkv"), _frames(120))  # 4 s; the Segment's size is in its header
    truncate(p("whole.mkv"), p("cut mkv.mkv"), 0.6)
    truncate(p("whole.mkv"), p("cut mkv tiny.mkv"), 0.22)  # a few frames: under probe min_duration_s
    truncate(p("whole.mkv"), p("cut mkv header.mkv"), 0.02)  # inside its header: FFmpeg cannot open it
    damage(p("whole.mkv"), p("damaged mkv.mkv"), 0.5, 2000)  # FFmpeg's demuxer stops there (break test)
    drop_duration(p("whole.mkv"), p("whole no duration.mkv"))
    truncate(p("whole no duration.mkv"), p("cut mkv no duration.mkv"), 0.6)  # only the bytes tell
    with_audio(p("audio 14s.mkv"), 2.0, 14.0)  # the header's duration is the audio's
    truncate(p("audio 14s.mkv"), p("cut in audio mkv.mkv"), 0.9)  # every video frame still there
    drop_duration(p("audio 14s.mkv"), p("audio 14s no duration.mkv"))
    truncate(p("audio 14s no duration.mkv"), p("cut in audio mkv no duration.mkv"), 0.9)  # the same (break test)
    encode(p("whole avi.avi"), _frames(120), codec="mpeg4")  # 4 s; its header counts 120 frames
    truncate(p("whole avi.avi"), p("cut avi.avi"), 0.6)
    truncate(p("whole avi.avi"), p("cut avi header.avi"), 0.01)  # inside its header
    webm_pipe(p("pipe avi.avi"), 4.0, fmt="avi")  # whole, its sizes never written
    encode(p("av1.mkv"), _frames(60), codec="libsvtav1", options={"preset": "12"})
    encode(p("hevc10.mkv"), _frames(60), codec="libx265", pix_fmt="yuv420p10le",
           options={"preset": "ultrafast", "x265-params": "log-level=error"})
    encode(p("yuv444 odd.mkv"), _frames(60, 161, 121), pix_fmt="yuv444p")
    encode(p("single.mp4"), _frames(1))
    vfr = np.cumsum([0] + [20 if i % 3 else 50 for i in range(89)]).tolist()
    encode(p("vfr.mkv"), _frames(90), pts=vfr)
    with_audio(p("long audio.mp4"), 2.0, 5.0)
    _audio_only(p("audio only.mp4"))
    with open(p("noise.mov"), "wb") as f:
        f.write(np.random.default_rng(0).integers(0, 255, 20000, dtype=np.uint8).tobytes())
    return {os.path.splitext(n)[0]: os.path.join(root, n) for n in os.listdir(root)}


def _audio_only(path: str) -> None:
    with av.open(path, "w") as c:
        _silence(c, c.add_stream("aac", rate=16000), 1.28)


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
