"""Streams whose decoded frames are not plain pictures of their own size, with known truth.

- :func:`header_cropped`: H.264 coded at ``coded`` size whose sequence header crops the
  picture to ``shown`` (``h264_metadata`` bitstream filter): FFmpeg's decoder hands out
  each frame as a view into the whole coded picture (line size of the coded width).
- :func:`bottom_up`: raw ``yuv420p`` in Matroska marked ``BottomUp``: FFmpeg's rawvideo
  decoder hands out frames with negative line sizes.

Both are tagged limited range BT.709, so a clip of the shown size needs no conversion and
swscale returns the decoder's own frame.
"""

from __future__ import annotations

from fractions import Fraction

import av
import av.bitstream
import numpy as np

_TAGS = {"color_range": "tv", "colorspace": "bt709", "color_primaries": "bt709", "color_trc": "bt709"}


def _pictures(n: int, width: int, height: int, patch: tuple[int, int]):
    """``n`` ``(H * 3 / 2, W) uint8`` yuv420p planes: mid grey with a bright square moving
    right inside the top-left ``patch`` (w, h), so the shown crop changes every frame."""
    for i in range(n):
        planes = np.full((height * 3 // 2, width), 128, np.uint8)
        x = (3 * i) % max(1, patch[0] - 16)
        planes[8:24, x:x + 16] = 235
        yield planes


def _encode(out, stream, pictures) -> None:
    """Encode yuv420p ``pictures`` at 25 fps on ``stream`` and mux them into ``out``, then flush."""
    for i, planes in enumerate(pictures):
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        frame.pts, frame.time_base = i, Fraction(1, 25)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)


def header_cropped(path: str, frames: int = 40, coded: tuple[int, int] = (1920, 1080),
                   shown: tuple[int, int] = (96, 64)) -> None:
    """Write ``frames`` frames of H.264 coded at ``coded`` (w, h) and cropped by its header to
    ``shown`` (the top-left corner) to an MP4 at ``path``, 25 fps."""
    raw = path + ".h264"
    with av.open(raw, "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = coded[0], coded[1], "yuv420p"
        stream.codec_context.options = {"threads": "1", "preset": "ultrafast", "crf": "30", **_TAGS}
        _encode(out, stream, _pictures(frames, *coded, shown))
    coded_h = (coded[1] + 15) // 16 * 16  # H.264 codes whole macroblocks; the header crops the rest too
    crop = f"h264_metadata=crop_right={coded[0] - shown[0]}:crop_bottom={coded_h - shown[1]}"
    with av.open(raw) as src, av.open(path, "w") as out:
        video = src.streams.video[0]
        bsf = av.bitstream.BitStreamFilterContext(crop, video)
        stream = out.add_stream_from_template(video)
        stream.width, stream.height = shown
        n = 0
        for packet in src.demux(video):
            for cropped in bsf.filter(packet if packet.size else None):
                cropped.stream, cropped.time_base = stream, Fraction(1, 25)
                cropped.pts = cropped.dts = n
                cropped.duration, n = 1, n + 1
                out.mux(cropped)


def bottom_up(path: str, frames: int = 30, size: tuple[int, int] = (96, 64)) -> None:
    """Write ``frames`` frames of raw yuv420p at ``size`` (w, h), marked bottom-up, to a
    Matroska file at ``path``, 25 fps."""
    with av.open(path, "w") as out:
        stream = out.add_stream("rawvideo", rate=25)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.options = dict(_TAGS)
        stream.codec_context.extradata = b"BottomUp\0"
        _encode(out, stream, _pictures(frames, *size, size))
