"""Probe a source video with PyAV: container and video-stream facts, no full decode.

Times come from the video stream's packet timestamps, not frame index / fps: the
demuxer reads every video packet (cheap: no decoding), which gives the frame count,
the duration of the video stream alone (an audio track that runs longer does not
count), the average rate and whether frame intervals vary (variable frame rate).
One frame is decoded to read the display rotation and to prove the stream decodes.

PyAV is used for probing and sequential decoding throughout (DESIGN.md: codecs);
decord is kept for random access in the trainer's loader.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from curate.codec.errors import CodecError, open_container


@dataclass(frozen=True)
class ProbeResult:
    """Facts of the first video stream. ``width``/``height`` are as displayed (after rotation).

    ``duration_s`` and ``fps`` come from packet timestamps; ``num_frames`` counts
    video packets with a timestamp (the split pass later replaces it with the
    number of frames that actually decode).
    """

    duration_s: float
    fps: float
    vfr: bool
    num_frames: int
    width: int
    height: int
    rotation: int
    codec: str
    pix_fmt: str
    has_audio: bool


def _packet_times(container: av.container.InputContainer, stream) -> np.ndarray:
    """Sorted presentation times (seconds, float64) of the stream's packets."""
    tb = float(stream.time_base)
    pts = [p.pts for p in container.demux(stream) if p.pts is not None and p.size > 0]
    return np.sort(np.asarray(pts, dtype=np.float64) * tb)


def _is_vfr(times: np.ndarray, tolerance: float = 0.1) -> bool:
    """True when more than 5% of frame intervals differ from the median by over ``tolerance``."""
    if len(times) < 3:
        return False
    gaps = np.diff(times)
    med = float(np.median(gaps))
    if med <= 0:
        return False
    return float(np.mean(np.abs(gaps - med) > tolerance * med)) > 0.05


def _first_frame(path: str):
    with open_container(path) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            return frame
    return None


def probe(path: str) -> ProbeResult:
    """Probe ``path`` (a local path or anything ``av.open`` takes).

    Raises :class:`CodecError` with reason ``no_video_stream`` (no video stream),
    ``unsupported_codec`` (no decoder in this FFmpeg build), ``truncated`` (no
    packet or no frame decodes) or ``decode_error`` (the container cannot be read).
    """
    with open_container(path) as container:
        if not container.streams.video:
            raise CodecError("no_video_stream", f"streams: {[s.type for s in container.streams]}")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx is None or not ctx.name:
            raise CodecError("unsupported_codec", "no decoder for the video stream")
        codec, pix_fmt = ctx.name, ctx.pix_fmt or ""
        width, height = ctx.width, ctx.height
        has_audio = bool(container.streams.audio)
        times = _packet_times(container, stream)
    if len(times) == 0:
        raise CodecError("truncated", "no video packets")
    frame = _first_frame(path)
    if frame is None:
        raise CodecError("truncated", "no frame decodes")
    rotation = int(round(float(getattr(frame, "rotation", 0) or 0) / 90.0)) * 90 % 360
    gaps = np.diff(times)
    last = float(np.median(gaps)) if len(gaps) else 0.0
    duration = float(times[-1] - times[0] + last) if len(times) > 1 else 0.0
    fps = len(times) / duration if duration > 0 else float(stream.average_rate or 0)
    if rotation in (90, 270):
        width, height = height, width
    return ProbeResult(
        duration_s=duration, fps=fps, vfr=_is_vfr(times), num_frames=len(times),
        width=width, height=height, rotation=rotation, codec=codec, pix_fmt=pix_fmt,
        has_audio=has_audio,
    )
