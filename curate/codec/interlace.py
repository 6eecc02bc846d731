"""Interlaced sources: name the field order, and deinterlace with FFmpeg's ``bwdif``.

Archives, DV and broadcast footage (576i, 480i, 1080i) store two fields per frame,
taken 1/50 or 1/60 s apart; shown as progressive frames, every moving edge combs.
The field order comes from the stream (``AVCodecContext.field_order``: ``tt``/``bb``
top or bottom field first, ``tb``/``bt`` coded in one order and shown in the other)
and, when the stream says nothing, from the decoded frame's ``interlaced_frame``
flag (``interlaced``: the filter then reads each frame's own top-field-first flag).

A stream that says nothing (``unknown``: MJPEG and MPEG-4 Part 2 AVIs of capture cards
and webcams, raw streams) is looked at by FFmpeg's ``idet`` filter (:func:`detect_field_order`).

Deinterlacing runs FFmpeg's ``bwdif`` filter (Bob Weaver Deinterlacing Filter, after
Thomas Kubicki's w3fdif and yadif; libavfilter ``vf_bwdif``) through PyAV's filter
graph (:class:`av.filter.Graph`), one output frame per input frame
(``mode=send_frame``) with the input's timestamp, on the decoded frames before any
scaling (scaling first would blur the two fields into ghosts).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

import av
import av.filter

from curate.codec.errors import CodecError, open_container

FIELD_ORDERS = {0: "unknown", 1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}
"""``AVFieldOrder`` values (FFmpeg ``libavcodec/defs.h``) to the names FFmpeg prints."""

INTERLACED = ("tt", "bb", "tb", "bt", "interlaced")

# Display order decides the parity: tb (top coded first, bottom shown first) is bff.
_PARITY = {"tt": "tff", "bt": "tff", "bb": "bff", "tb": "bff", "interlaced": "auto"}


def field_order_name(stream_field_order: int | None, frame_interlaced: bool) -> str:
    """The record's field order from the stream's ``AVFieldOrder`` and the first
    decoded frame's ``interlaced_frame`` flag.

    Returns ``tt``, ``bb``, ``tb``, ``bt`` (stream-declared), ``interlaced`` (the
    stream says progressive or nothing but frames are flagged interlaced),
    ``progressive`` or ``unknown`` (no information: :func:`detect_field_order` then
    looks at the pictures; ``unknown`` is treated as progressive).
    """
    name = FIELD_ORDERS.get(int(stream_field_order or 0), "unknown")
    if name in INTERLACED:
        return name
    return "interlaced" if frame_interlaced else name


def is_interlaced(field_order: str) -> bool:
    """True when a source with this field order (see :func:`field_order_name`) is deinterlaced."""
    return field_order in INTERLACED


def deinterlace(frames: Iterator[av.VideoFrame], field_order: str,
                time_base) -> Iterator[av.VideoFrame]:
    """Deinterlace decoded frames with ``bwdif`` (one frame out per frame in).

    Args:
        frames: decoded frames of one stream, in presentation order.
        field_order: a name from :func:`field_order_name`; it sets the filter's parity
            when the frames are not flagged interlaced.
        time_base: the stream's time base (timestamps pass through unchanged).

    When the first frame is flagged interlaced, the flags are trusted frame by frame
    (``deint=interlaced``: the progressive part of an interlaced-then-progressive file is
    left untouched), each frame's field order too (``parity=auto``): the stream's is not
    read the same way by every tool (the ``ffmpeg`` command tags a top-field-first H.264
    encode ``tb``, "bottom shown first" by FFmpeg's own definition, and Matroska stores
    that as FieldOrder 9, so such files had been deinterlaced one field late, a break
    test). A stream that declares a field order but does not flag its first frame is
    deinterlaced whole (``deint=all``) in the order it declares.

    Yields frames of the input's size and pixel format, each with its input's ``pts``
    (in ``time_base``).
    The filter looks one frame ahead, so the last frame comes out when the input ends. A
    frame whose size, pixel format or colour tags differ from the previous one's (a
    broadcast capture switching from 16:9 to 4:3 by picture size) ends the filter graph
    (its last frame drained) and starts a new one: the graph's input is fixed when it is
    configured, and the new size had failed the whole source (a break test).
    """
    graph = sink = src = None
    only_flagged = kind = None
    for frame in frames:
        now = _kind(frame)
        if graph is not None and now != kind:
            src.push(None)
            yield from _drain(sink, time_base)
            graph = None
        if graph is None:
            if only_flagged is None:  # decided by the first frame, for the whole stream
                only_flagged = bool(frame.interlaced_frame)
            graph, src, sink = _graph(frame, field_order, time_base, only_flagged)
            kind = now
        src.push(frame)
        yield from _drain(sink, time_base)
    if graph is not None:
        src.push(None)
        yield from _drain(sink, time_base)


def _kind(frame: av.VideoFrame) -> tuple:
    """What a filter graph's input is configured for: size, pixel format, colour tags."""
    return frame.width, frame.height, frame.format.name, int(frame.color_range), int(frame.colorspace)


def deinterlace_flagged(frames: Iterator[av.VideoFrame], time_base) -> Iterator[av.VideoFrame]:
    """Frames of a source whose first frame is progressive, passed on untouched until one
    is flagged interlaced (``interlaced_frame``); from that frame on they go through
    ``bwdif`` with ``deint=interlaced``, which deinterlaces the flagged frames only, each
    by its own field order, as FFmpeg's ``-deint interlaced`` does. Broadcast captures and
    joined camcorder files turn interlaced part-way; judged by the first frame alone, their
    interlaced part kept its combs. Same arguments and timestamps as :func:`deinterlace`."""
    frames = iter(frames)
    for frame in frames:
        if frame.interlaced_frame:
            yield from deinterlace(chain([frame], frames), "interlaced", time_base)  # flags trusted
            return
        yield frame


def _graph(frame: av.VideoFrame, field_order: str, time_base, only_flagged: bool):
    graph = av.filter.Graph()
    src = graph.add("buffer", video_size=f"{frame.width}x{frame.height}",
                    pix_fmt=str(int(av.VideoFormat(frame.format.name))),
                    time_base=str(time_base), pixel_aspect="1/1",
                    range=str(int(frame.color_range)), colorspace=str(int(frame.colorspace)))
    # flagged frames carry their own field order from the bitstream: the filter reads it
    parity = "auto" if only_flagged else _PARITY.get(field_order, "auto")
    bwdif = graph.add("bwdif", mode="send_frame", parity=parity,
                      deint="interlaced" if only_flagged else "all")
    sink = graph.add("buffersink")
    src.link_to(bwdif)
    bwdif.link_to(sink)
    graph.configure()
    return graph, src, sink


def _drain(sink, time_base) -> Iterator[av.VideoFrame]:
    """Pull every ready frame, with ``pts`` back in the stream's ``time_base`` (bwdif
    halves the time base so that ``send_field`` mode could time fields)."""
    while True:
        try:
            frame = sink.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return
        if frame.pts is not None and frame.time_base is not None and frame.time_base != time_base:
            frame.pts = int(round(frame.pts * frame.time_base / time_base))
            frame.time_base = time_base
        yield frame


IDET_FRAMES = 60  # decoded frames FFmpeg's idet judges for a source that says nothing of its fields
IDET_MIN = 8  # fewest frames idet must call interlaced (a still interlaced picture is undetermined)
IDET_SHARE = 0.8  # share of the frames idet decides (interlaced or progressive) it must call interlaced


def detect_field_order(path: str, index: int) -> str:
    """``tt`` or ``bb`` when FFmpeg's ``idet`` filter (libavfilter ``vf_idet``: each frame
    compared with the lines of its neighbours, judged over several frames) calls at least
    :data:`IDET_MIN` of the first :data:`IDET_FRAMES` decoded frames of stream ``index`` of
    ``path`` interlaced, and at least :data:`IDET_SHARE` of those it decides, top or bottom
    field first by the majority; else ``unknown``. For sources whose stream and first frame
    say nothing of fields (:func:`field_order_name`): MJPEG and DV-in-AVI captures, raw
    and MPEG-4 Part 2 files, whose combs had stayed in their clips (a break test). A
    decode error or a mid-stream size change ends the look early; an empty look is
    ``unknown``."""
    counts: dict[str, float] = {}
    graph = src = sink = kind = None
    try:
        with open_container(path) as container:
            stream = container.streams[index]
            for n, frame in enumerate(container.decode(stream)):
                if graph is None:
                    kind = _kind(frame)
                    graph = av.filter.Graph()
                    src = graph.add("buffer", video_size=f"{frame.width}x{frame.height}",
                                    pix_fmt=str(int(av.VideoFormat(frame.format.name))),
                                    time_base=str(stream.time_base), pixel_aspect="1/1")
                    idet = graph.add("idet")
                    sink = graph.add("buffersink")
                    src.link_to(idet)
                    idet.link_to(sink)
                    graph.configure()
                elif _kind(frame) != kind or n >= IDET_FRAMES:
                    break
                src.push(frame)
                counts = _idet_counts(sink, counts)
            if graph is not None:
                src.push(None)
                counts = _idet_counts(sink, counts)
    except (CodecError, av.error.FFmpegError, ValueError, OSError):  # what decoded so far stands
        pass
    tff, bff, progressive = (counts.get(k, 0.0) for k in ("tff", "bff", "progressive"))
    if tff + bff >= IDET_MIN and tff + bff >= IDET_SHARE * (tff + bff + progressive):
        return "tt" if tff >= bff else "bb"
    return "unknown"


def _idet_counts(sink, counts: dict[str, float]) -> dict[str, float]:
    """The running totals of ``idet``'s multi-frame verdicts on the last frame pulled from
    ``sink`` (its ``lavfi.idet.multiple.*`` frame metadata), or ``counts`` when none is ready."""
    while True:
        try:
            frame = sink.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return counts
        meta = dict(frame.metadata)
        counts = {k: float(meta.get(f"lavfi.idet.multiple.{k}", 0.0)) for k in ("tff", "bff", "progressive")}
