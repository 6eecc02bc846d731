"""Picture facts of a source video from its stream and first decoded frame: how to turn it
upright (display matrix), its pixel aspect, colour range, primaries and transfer, and
field order. Used by :func:`curate.codec.probe.probe`; decoding applies them
(:mod:`curate.codec.decode`, :mod:`curate.codec.colour`, :mod:`curate.codec.interlace`).
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from curate.codec.colour import primaries_name, range_name, transfer_name
from curate.codec.interlace import field_order_name


def orientation(frame: av.VideoFrame) -> tuple[int, bool]:
    """How to turn a decoded frame upright: ``(rotation, hflip)``, ``rotation`` degrees
    counter-clockwise (0, 90, 180, 270), then a left-right mirror when ``hflip``.

    From the frame's display matrix (``DISPLAYMATRIX`` side data: MP4 ``tkhd``, Matroska
    projection, H.264 SEI), decided as FFmpeg's autorotate does (fftools ``ffmpeg_filter.c``):
    the angle ``theta = atan2(m[1], m[0])`` picks a quarter turn, and the signs of ``m[0]``,
    ``m[3]`` and ``m[4]`` pick the mirror that goes with it (``transpose`` with a flip,
    ``hflip``, ``vflip``). The angle alone (``av_display_rotation_get``) misses mirrors: a
    matrix that only mirrored left-right read as a half turn, and its clip came out upside
    down. Angles between quarter turns are rounded to the nearest one (FFmpeg rotates by
    the exact angle). No matrix: ``(0, False)``.
    """
    # by key: iterating the side data gives the entries up to PyAV 18.1.0 and their types from 18.1.1 on
    matrix = frame.side_data.get("DISPLAYMATRIX")
    if matrix is None or len(bytes(matrix)) < 36:
        return 0, False
    m = np.frombuffer(bytes(matrix)[:36], np.int32).astype(np.float64)
    if not np.hypot(m[0], m[3]) or not np.hypot(m[1], m[4]):
        return 0, False  # a degenerate matrix: FFmpeg's rotation is NaN, nothing applied
    theta = int(round(float(np.degrees(np.arctan2(m[1], m[0]))) / 90.0)) * 90 % 360
    if theta == 90:  # FFmpeg: transpose=cclock_flip when m[3] > 0, else clock
        return (270, True) if m[3] > 0 else (270, False)
    if theta == 270:  # FFmpeg: transpose=clock_flip when m[3] < 0, else cclock
        return (90, True) if m[3] < 0 else (90, False)
    if theta == 180:  # FFmpeg: hflip when m[0] < 0, vflip when m[4] < 0 (both: a half turn)
        h, v = m[0] < 0, m[4] < 0
        return (180, False) if h and v else (0, True) if h else (180, True) if v else (0, False)
    return (180, True) if m[4] < 0 else (0, False)  # FFmpeg: vflip when m[4] < 0


def sample_aspect(stream) -> Fraction:
    """The stream's sample (pixel) aspect ratio as a Fraction; 1 when unset or invalid."""
    for value in (stream.sample_aspect_ratio, stream.codec_context.sample_aspect_ratio):
        if value is not None and value.numerator > 0 and value.denominator > 0:
            return Fraction(value.numerator, value.denominator)
    return Fraction(1)


def picture_facts(frame: av.VideoFrame, sar: Fraction, stream_field_order: int | None) -> dict:
    """ProbeResult's picture fields from the first decoded frame, the stream's sample
    aspect ratio and its ``AVFieldOrder``: ``sar`` (``num:den``), ``color_range``,
    ``color_primaries``, ``color_transfer`` and ``field_order``."""
    return {"sar": f"{sar.numerator}:{sar.denominator}", "color_range": range_name(frame),
            "color_primaries": primaries_name(frame.color_primaries),
            "color_transfer": transfer_name(frame.color_trc),
            "field_order": field_order_name(stream_field_order, bool(frame.interlaced_frame))}
