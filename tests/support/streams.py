"""Files whose video stream is hard to find or breaks part-way, with known truth.

- :func:`still_then_video`: a 1-frame still image (larger, ``default`` disposition in MP4)
  stored as the first video stream, then the real 160x120 video of ``frames`` frames.
- :func:`cover_art_audio`: audio whose only picture is cover art (``attached_pic``):
  MP3 (APIC), M4A (``covr``) or MKA (an image attachment), by the file's extension.
- :func:`corrupt_middle`: a copy of a video with random bytes written over its middle,
  so decoding fails part-way.
"""

from __future__ import annotations

import os

import av
import numpy as np

from support.hostile import _frames


def _jpeg(width: int = 64, height: int = 48) -> tuple[av.VideoFrame, bytes]:
    img = np.full((height, width, 3), 120, np.uint8)
    frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuvj420p")
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = width, height, "yuvj420p", 1
    data = b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])
    return frame, data


def still_then_video(path: str, frames: int = 60, still_codec: str = "libx264") -> None:
    """Stream 0: one 320x240 frame (``still_codec``); stream 1: ``frames`` frames of
    160x120 H.264 at 30 fps. MP4 marks stream 0 ``default``; MKV marks neither."""
    with av.open(path, "w") as c:
        still = c.add_stream(still_codec, rate=30)
        still.width, still.height = 320, 240
        still.pix_fmt = "yuvj420p" if still_codec == "mjpeg" else "yuv420p"
        video = c.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        video.codec_context.options = {"threads": "1"}
        img = next(_frames(1, 320, 240, seed=3))
        pic = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=still.pix_fmt)
        for p in [*still.encode(pic), *still.encode(None)]:
            c.mux(p)
        for img in _frames(frames):
            for p in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in video.encode(None):
            c.mux(p)


def cover_art_audio(path: str, seconds: float = 1.28) -> None:
    """AAC (M4A, MKA) or MP3 audio of ``seconds`` with a JPEG cover picture."""
    ext = os.path.splitext(path)[1].lower()
    fmt = {".m4a": "mp4", ".mka": "matroska", ".mp3": "mp3"}[ext]
    pic, data = _jpeg()
    with av.open(path, "w", format=fmt) as c:
        audio = c.add_stream("libmp3lame" if ext == ".mp3" else "aac", rate=16000)
        if ext == ".mka":
            c.add_attachment("cover.jpg", "image/jpeg", data)
        else:
            cover = c.add_stream("mjpeg")
            cover.width, cover.height, cover.pix_fmt = pic.width, pic.height, "yuvj420p"
            cover.disposition = av.stream.Disposition.attached_pic
            for p in [*cover.encode(pic), *cover.encode(None)]:
                c.mux(p)
        _silence(c, audio, seconds)


def _silence(container, stream, seconds: float) -> None:
    """Encode ``seconds`` of mono silence in the encoder's frame size (AAC 1024, MP3 1152)."""
    n, rate = stream.codec_context.frame_size or 1024, stream.codec_context.sample_rate
    for i in range(int(seconds * rate / n)):
        fr = av.AudioFrame.from_ndarray(np.zeros((1, n), np.float32), format="fltp", layout="mono")
        fr.sample_rate, fr.pts = rate, i * n
        for p in stream.encode(fr):
            container.mux(p)
    for p in stream.encode(None):
        container.mux(p)


def corrupt_middle(src: str, dst: str, at: float = 0.5, size: int = 200, seed: int = 1) -> None:
    """Copy ``src`` to ``dst`` with ``size`` random bytes written at fraction ``at`` of it."""
    data = bytearray(open(src, "rb").read())
    start = int(len(data) * at)
    data[start:start + size] = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    with open(dst, "wb") as f:
        f.write(bytes(data))
