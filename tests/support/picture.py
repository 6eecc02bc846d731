"""Sources whose picture format is the point: full-range colour, non-square pixels,
interlaced fields, HDR tags. Each has exact known truth (patch colours, a square
in display space, two fields from known times).

Written with PyAV encoders; codec-context attributes (``color_range``,
``sample_aspect_ratio``, ``field_order``, interlace flags, colour tags) are set
before the encoder opens, and RGB frames are converted to the stream's pixel format
with the stream's range stated, as a camera would.
"""

from __future__ import annotations

from fractions import Fraction

import av
import av.filter
import numpy as np
from av.video.reformatter import ColorRange

CHART_COLOURS = [(v, v, v) for v in (16, 52, 90, 128, 170, 210, 243, 255)] + [
    (200, 40, 40), (40, 180, 60), (50, 60, 200), (230, 200, 40),
    (20, 20, 20), (240, 240, 240), (120, 60, 160), (0, 0, 0)]
"""RGB of the chart's 16 patches: a grey ramp (top row), then colours (bottom row)."""


def chart(width: int = 320, height: int = 240) -> np.ndarray:
    """The colour chart: 8x2 flat patches of :data:`CHART_COLOURS`, ``(H, W, 3) uint8`` RGB."""
    img = np.zeros((height, width, 3), np.uint8)
    pw, ph = width // 8, height // 2
    for i, colour in enumerate(CHART_COLOURS):
        row, col = divmod(i, 8)
        img[row * ph:(row + 1) * ph, col * pw:(col + 1) * pw] = colour
    return img


def patch_centres(img: np.ndarray) -> np.ndarray:
    """Mean RGB of the middle half of each of the 16 patches of a chart-sized image: ``(16, 3) float64``."""
    h, w = img.shape[:2]
    pw, ph = w / 8, h / 2
    out = []
    for i in range(16):
        row, col = divmod(i, 8)
        y0, x0 = int(row * ph + ph / 4), int(col * pw + pw / 4)
        out.append(img[y0:int(y0 + ph / 2), x0:int(x0 + pw / 2)].reshape(-1, 3).mean(axis=0))
    return np.asarray(out)


def write(path: str, frames, *, codec: str = "libx264", pix_fmt: str = "yuv420p", fps: int = 25,
          full_range: bool = False, context: dict | None = None, options: dict | None = None,
          interlaced: bool = False, top_field_first: bool = True, rotation: int = 0) -> int:
    """Encode ``(H, W, 3) uint8`` RGB frames; returns the count.

    ``full_range`` stores Y 0-255 and tags the stream ``pc``; ``context`` sets
    codec-context attributes (``sample_aspect_ratio``, ``color_trc``, ...);
    ``interlaced`` turns on interlaced coding (``+ildct+ilme``: libx264 then codes
    field pictures and flags each frame interlaced, top or bottom field first by
    ``top_field_first``: the frames pass FFmpeg's ``setfield`` first, since libx264 takes
    the order from each frame's flag, which a frame made from an array lacks, and had
    coded bottom first whatever its options said); ``rotation`` (degrees,
    counter-clockwise) is stored as display-matrix metadata.
    """
    frames = list(frames)
    rng = ColorRange.JPEG if full_range else ColorRange.MPEG
    with av.open(path, "w") as c:
        s = c.add_stream(codec, rate=Fraction(fps))
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = pix_fmt
        if rotation:
            s.set_display_rotation(rotation)
        s.codec_context.color_range = int(rng)
        for key, value in (context or {}).items():
            setattr(s.codec_context, key, value)
        if interlaced:
            flags = av.codec.context.Flags
            s.codec_context.flags |= flags.interlaced_dct | flags.interlaced_me
        base = {"threads": "1", "x264-params": "mbtree=0"} if codec == "libx264" else {}
        s.codec_context.options = {**base, **(options or {})}
        field = _setfield(frames[0], fps, pix_fmt, "tff" if top_field_first else "bff") if interlaced else None
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(
                format=pix_fmt, dst_color_range=rng)
            frame.pts = i
            if field is not None:
                field[1].push(frame)
                frame = field[2].pull()
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return len(frames)


def _setfield(first: np.ndarray, fps: int, pix_fmt: str, mode: str):
    """``(graph, source, sink)`` of a filter graph that flags frames interlaced, ``mode`` (``tff``
    or ``bff``) first; frames of ``first``'s size in ``pix_fmt``."""
    graph = av.filter.Graph()
    h, w = first.shape[:2]
    src = graph.add_buffer(width=w, height=h, format=pix_fmt, time_base=Fraction(1, fps))
    flag = graph.add("setfield", mode=mode)
    sink = graph.add("buffersink")
    src.link_to(flag)
    flag.link_to(sink)
    graph.configure()
    return graph, src, sink  # the graph is held: its filters die with it


def field_frames(n: int, width: int = 320, height: int = 240, top_first: bool = True,
                 step: int = 8) -> list[np.ndarray]:
    """Interlaced frames of a white bar moving right ``step`` px per frame on grey.

    Each frame holds two fields half a frame apart: the first field (even rows when
    ``top_first``, odd rows otherwise) shows the bar at time ``i``, the second at
    ``i + 0.5``, so every moving edge combs by ``step / 2`` px.
    """
    first, second = (0, 1) if top_first else (1, 0)
    out = []
    for i in range(n):
        img = np.full((height, width, 3), 40, np.uint8)
        for rows, dt in ((first, 0.0), (second, 0.5)):
            x = int(20 + (i + dt) * step)
            img[rows::2, x:x + 60] = 220
        out.append(img)
    return out


def combing(gray: np.ndarray) -> float:
    """Mean absolute difference of each row from the mean of its two neighbours, 0..255.

    Near 0 on progressive pictures of smooth or vertical-edged content; large where
    the two fields of a frame disagree (combing)."""
    g = gray.astype(np.float64)
    return float(np.abs(g[1:-1] - (g[:-2] + g[2:]) / 2).mean())
