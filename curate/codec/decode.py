"""Sequential decoding with PyAV: frames with their presentation times, resized on the way.

Every pass (the cheap shot-detection pass, the per-span extraction pass) measures time
the same way: a frame's time is its presentation timestamp minus the stream's start
time, in seconds. Frames without a timestamp take the previous one plus the average
frame interval. Resizing happens in FFmpeg's swscale (``frame.reformat``) so a 4K
source never exists as a full-size NumPy array. Rotation metadata is applied after
resizing (``np.rot90``), so frames come out upright.

On a GPU node frames can be decoded by NVDEC (``decoder=``, :mod:`curate.codec.hwaccel`):
PyAV copies each frame back to system memory (``nv12``) before it reaches the code
below, so resizing, colour conversion and deinterlacing are the same as on the CPU path.

PyAV is chosen over decord for these passes: both are sequential reads of every
frame, where PyAV's threaded decoder is as fast and decord's background read-ahead
costs memory (DESIGN.md, codecs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from curate.codec.colour import COLOUR_TAGS, rgb_to_clip_yuv, sws_threads, to_clip_yuv
from curate.codec.errors import CodecError, open_container
from curate.codec.hwaccel import DecoderChoice, pick_decoder
from curate.codec.interlace import deinterlace, deinterlace_flagged, is_interlaced
from curate.codec.streams import video_stream_index
from curate.codec.reshape import PictureShape, pad_clip_frame, pad_image, turn_clip_frame
from curate.codec.seek import decode_until_error, ends_on_error, seek_frames
from curate.codec.timestamps import best_effort, untimed_rate


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame: ``t_s`` seconds from stream start, ``index`` in decode-pass order.

    ``image``: ``(H, W, 3) uint8`` (rgb24/bgr24), ``(H, W) uint8`` (gray) or an
    ``av.VideoFrame`` (yuv420p), upright.
    ``index`` counts frames from where the pass started (0 after a seek). ``shifted``:
    the timestamps went backwards or repeated at or before this frame, and its time was
    moved forward to keep times increasing (joined files whose clocks restart).
    ``discontinuity``: at this frame the clock restarted (its own timestamp went back by
    more than :data:`RESTART_FRAMES` frame intervals: joined recordings) or the picture's
    display shape changed (:mod:`curate.codec.reshape`: a 16:9 to 4:3 switch); it splits
    shots like a cut (:meth:`curate.split.SplitStage.finish`). A time that repeats or steps
    back a frame (broken muxing) is shifted but no discontinuity.
    """

    index: int
    t_s: float
    image: np.ndarray | av.VideoFrame
    shifted: bool = False
    discontinuity: bool = False


RESTART_FRAMES = 1.5
"""Frame intervals a timestamp must go back by to be a clock restart (:class:`DecodedFrame`)."""


def scaled_size(width: int, height: int, short_side: int | None, even: bool = True) -> tuple[int, int]:
    """Width and height scaled so the short side is ``short_side`` (never upscaled).

    Keeps the aspect ratio; rounds to even numbers when ``even`` (H.264 yuv420p needs
    them), never past the input's own side (an odd side is made even by dropping a pixel:
    255x481 had become 256x480, a 1-pixel upscale found by a break test; a side of 1
    becomes 2). Returns the input size (made even) when ``short_side`` is None or larger.
    """
    scale = 1.0 if not short_side else min(1.0, short_side / min(width, height))
    w, h = width * scale, height * scale
    if even:
        return (max(2, min(int(round(w / 2)) * 2, width // 2 * 2)),
                max(2, min(int(round(h / 2)) * 2, height // 2 * 2)))
    return max(1, int(round(w))), max(1, int(round(h)))


_ROT_K = {0: 0, 90: 1, 180: 2, 270: 3}


def upright(image: np.ndarray, rotation: int, hflip: bool = False) -> np.ndarray:
    """Apply a display orientation (:func:`curate.codec.picture.orientation`): ``rotation``
    degrees counter-clockwise, then a left-right mirror when ``hflip``. ``image``:
    ``(H, W)`` or ``(H, W, C)``; returns a contiguous array (``image`` itself when nothing
    is applied)."""
    k = _ROT_K.get(rotation % 360, 0)
    if not k and not hflip:
        return image
    out = np.rot90(image, k) if k else image
    return np.ascontiguousarray(out[:, ::-1] if hflip else out)


def iter_frames(
    path: str,
    *,
    size: tuple[int, int] | None = None,
    fmt: str = "rgb24",
    rotation: int = 0,
    hflip: bool = False,
    start_s: float | None = None,
    end_s: float | None = None,
    seek: bool = True,
    stream_index: int | None = None,
    on_error: Callable[[CodecError, float | None], None] | None = None,
    field_order: str | None = None,
    decoder: str | DecoderChoice = "cpu",
    threads: int = 0,
) -> Iterator[DecodedFrame]:
    """Decode the source's video stream of ``path`` in presentation order.

    Args:
        size: ``(width, height)`` of the upright output; None keeps the coded size.
        fmt: ``rgb24``, ``bgr24`` or ``gray`` (NumPy images), or ``yuv420p``: an upright
            ``av.VideoFrame`` ready for :class:`curate.codec.ClipWriter`, made in one
            swscale pass (the extract stage's fast path) and converted to the clip's
            colour (limited range, the source's matrix: :mod:`curate.codec.colour`)
            whatever the source's range. A ``size`` of another aspect than the coded one
            (a source with non-square pixels) gives square pixels at that size. Each is
            a frame of its own, never the decoder's (:func:`own_copy`), so it may be held.
        rotation, hflip: display orientation to apply (from :func:`curate.codec.probe.probe`:
            ``rotation`` degrees counter-clockwise, then a left-right mirror).
        start_s, end_s: decode only frames with ``start_s <= t < end_s`` (seconds);
            ``start_s`` seeks to the keyframe before it first (one frame earlier for an
            interlaced source; again earlier when the seek lands late:
            :func:`curate.codec.seek.seek_frames`), so the frames are those of a decode
            from the start, unless ``seek`` is false (needed when timestamps were
            shifted: shifted times exist only in a pass from the start).
        stream_index: ``container.streams[i]`` to decode (the probe's
            ``stream_index``); None picks it with
            :func:`curate.codec.streams.pick_video_stream`.
        on_error: called as ``on_error(error, t_s)`` when decoding fails after frames were
            produced (``t_s``: seconds, the time of the last good frame), before the
            iteration ends; how callers learn that a source was only partly decoded.
        field_order: the source's field order (:func:`curate.codec.interlace.field_order_name`);
            an interlaced one is deinterlaced (``bwdif``) before any scaling; with any other
            name, frames flagged interlaced are (a progressive start joined to interlaced
            footage: :func:`curate.codec.interlace.deinterlace_flagged`); None (default)
            deinterlaces nothing (the split stage's small detection frames).
        decoder: ``cpu`` (default), ``auto`` or ``nvdec``, resolved by
            :func:`curate.codec.hwaccel.pick_decoder` (NVDEC only where a CUDA device
            opens; else the CPU decoder, reason logged), or a resolved
            :class:`~curate.codec.hwaccel.DecoderChoice`. NVDEC frames come back to system
            memory (``nv12``/``p010le``) and take the same conversions as CPU frames; for
            H.264/HEVC (bit-exact decoding by the standard) the pixels should match, not
            verified on a GPU here (bench/gpu_check.sh compares them).
        threads: decoder threads: 0 (default) lets FFmpeg choose (frame and slice
            threads, one per CPU); ``n`` >= 1 uses ``n``; 1 also scales on one thread
            (swscale's threads otherwise start at 1280x720,
            :func:`curate.codec.colour.sws_threads`). An intact stream's frames are the
            same either way; around damage in a broken one, FFmpeg's frame-threaded error
            concealment gives other pixels. Threading buys speed with CPU (about 30 %
            more decode CPU on ``../shared/footage``), worth it only where cores would
            idle (``extract.decode_threads``).

    A frame's timestamp is FFmpeg's best effort (:func:`curate.codec.timestamps.best_effort`:
    the packets' decode times where the container's presentation times come out of order,
    as in AVI with B-frames). Times always increase: a frame whose timestamp is not after the previous one's is
    moved to the previous time plus one average frame interval (``shifted``). A frame
    whose display shape differs from the stream's start (:mod:`curate.codec.reshape`) is
    fitted inside ``size`` with its own shape and padded with black bars.

    Raises :class:`CodecError` (``decode_error``/``truncated``/...) when decoding
    fails before the first frame; a failure after frames were produced ends the
    iteration early (a corrupt middle or a truncated tail: fewer frames, and a call to
    ``on_error``).
    """
    eps = 1e-4
    coded = size if rotation % 180 == 0 or size is None else (size[1], size[0])
    if stream_index is None:
        stream_index = video_stream_index(path)
    choice = decoder if isinstance(decoder, DecoderChoice) else pick_decoder(decoder)
    with open_container(path, hwaccel=choice.hwaccel) as container:
        stream = container.streams[stream_index]
        stream.thread_type = "AUTO"
        if threads:
            stream.codec_context.thread_count = threads
        tb = float(stream.time_base)
        t0 = float(stream.start_time * tb) if stream.start_time is not None else None
        rate = float(stream.average_rate or stream.guessed_rate or 25) if t0 is not None else untimed_rate(stream)
        # a stream without a start time (a raw elementary stream) has no timestamps to seek
        # by: its times count from the first frame decoded, so it is decoded from the start
        if seek and start_s is not None and start_s > 0 and stream.start_time is not None:
            # an interlaced frame is deinterlaced with its neighbours: one frame of pre-roll
            pre = 1.0 / rate if field_order is not None and is_interlaced(field_order) else 0.0
            frames = seek_frames(container, stream, start_s - pre, t0 or 0.0, on_error, lambda: last_t)
        else:
            frames = best_effort(decode_until_error(container, stream, on_error, lambda: last_t))
        if field_order is not None and is_interlaced(field_order):
            frames = ends_on_error(deinterlace(frames, field_order, stream.time_base), on_error, lambda: last_t)
        elif field_order is not None:
            frames = ends_on_error(deinterlace_flagged(frames, stream.time_base), on_error, lambda: last_t)
        index, last_t, offset, shifted = 0, None, 0.0, False
        convert = _Converter(single=threads == 1)
        shape = PictureShape(stream) if coded is not None else None
        for frame in frames:
            restart = False
            if frame.pts is None:
                t = (last_t + 1.0 / rate) if last_t is not None else 0.0
            else:
                if t0 is None:
                    t0 = frame.pts * tb
                t = frame.pts * tb - t0 + offset
                if last_t is not None and t <= last_t:
                    restart = t < last_t - RESTART_FRAMES / rate
                    offset += last_t + 1.0 / rate - t
                    t, shifted = last_t + 1.0 / rate, True
            last_t = t
            if start_s is not None and t < start_s - eps:
                continue
            if end_s is not None and t >= end_s - eps:
                break
            box, reshaped = shape.observe(frame, coded) if shape is not None else (None, False)
            yield DecodedFrame(index, t, convert(frame, coded, fmt, rotation, hflip, box), shifted,
                               restart or reshaped)
            index += 1


def own_copy(frame: av.VideoFrame) -> av.VideoFrame:
    """A ``yuv420p`` frame's pixels and colour tags in buffers of their own (PyAV's:
    positive line sizes, only the picture's rows). A frame that needs no conversion comes
    out of swscale as the decoder's own frame, which may be a view into a larger picture
    (a stream cropped in its header: 96x64 shown of 1920x1080 coded) or run bottom-up
    (negative line sizes); the one-decode pass holds clip frames
    (:class:`curate.spill.FrameSpill`), and a held view keeps the whole coded picture
    alive (16x its counted size, found by a break test)."""
    out = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
    for k in COLOUR_TAGS:
        setattr(out, k, getattr(frame, k))
    return out


def _even(size: tuple[int, int]) -> bool:
    return size[0] % 2 == 0 and size[1] % 2 == 0


class _Converter:
    """Scaling and format conversion for one pass, with swscale contexts kept between frames.

    ``VideoFrame.reformat`` and ``to_ndarray(format=...)`` make a new ``VideoReformatter``
    (a new swscale context, its filters computed again) for every frame; a pass's frames
    all share one size and format, so two reformatters kept for the pass (one scales, one
    converts: the same two steps, the same pixels) cost a context set-up once. Measured
    here: 1.9 ms -> 0.15 ms a frame for a 456x256 -> 256x144 BGR conversion.
    """

    def __init__(self, single: bool = False) -> None:
        self.scale, self.convert, self.back = VideoReformatter(), VideoReformatter(), VideoReformatter()
        self.fit = VideoReformatter()  # frames of another shape (curate.codec.reshape): their own context
        self.threads = (lambda _frame: 1) if single else sws_threads  # swscale's, per frame

    def __call__(self, frame: av.VideoFrame, coded: tuple[int, int] | None, fmt: str, rotation: int,
                 hflip: bool = False, box: tuple[int, int] | None = None):
        """``frame`` as ``fmt`` at ``coded`` (width, height before rotation; None: its own
        size), upright; ``box``: a smaller size to scale it to instead, then padded with
        black to ``coded`` (:mod:`curate.codec.reshape`)."""
        if box is not None and coded is not None:
            return self._boxed(frame, coded, fmt, rotation, hflip, box)
        if fmt == "yuv420p" and rotation % 360 == 0 and not hflip:
            # Straight to the clip's format, range and matrix in one swscale pass.
            w, h = coded or (frame.width, frame.height)
            out = to_clip_yuv(frame, w, h, self.scale, self.threads(frame))
            return own_copy(out) if out is frame else out
        if fmt == "yuv420p" and _even(coded or (frame.width, frame.height)):
            # Rotated or mirrored: the clip frame as above, its planes turned upright.
            w, h = coded or (frame.width, frame.height)
            return turn_clip_frame(to_clip_yuv(frame, w, h, self.scale, self.threads(frame)),
                                   lambda plane: upright(plane, rotation, hflip))
        if coded is not None and (frame.width, frame.height) != coded:
            frame = self.scale.reformat(frame, width=coded[0], height=coded[1], interpolation="AREA",
                                        threads=self.threads(frame))
        if fmt == "yuv420p":  # odd sides: turn upright in NumPy as RGB, then back to a frame
            img = upright(self._array(frame, "rgb24"), rotation, hflip)
            return rgb_to_clip_yuv(img, frame.colorspace, self.back, like=frame)
        if fmt not in ("gray", "rgb24", "bgr24"):
            raise CodecError("decode_error", f"unsupported output format {fmt}")
        return upright(self._array(frame, fmt), rotation, hflip)

    def _boxed(self, frame, coded, fmt, rotation, hflip, box):
        if fmt == "yuv420p" and rotation % 360 == 0 and not hflip:
            return pad_clip_frame(to_clip_yuv(frame, *box, self.fit, self.threads(frame)), coded)
        if fmt == "yuv420p" and _even(box):
            return turn_clip_frame(pad_clip_frame(to_clip_yuv(frame, *box, self.fit, self.threads(frame)), coded),
                                   lambda plane: upright(plane, rotation, hflip))
        frame = self.fit.reformat(frame, width=box[0], height=box[1], interpolation="AREA",
                                  threads=self.threads(frame))
        if fmt == "yuv420p":
            img = upright(pad_image(self._array(frame, "rgb24"), coded), rotation, hflip)
            return rgb_to_clip_yuv(img, frame.colorspace, self.back, like=frame)
        if fmt not in ("gray", "rgb24", "bgr24"):
            raise CodecError("decode_error", f"unsupported output format {fmt}")
        return upright(pad_image(self._array(frame, fmt), coded), rotation, hflip)

    def _array(self, frame: av.VideoFrame, fmt: str) -> np.ndarray:
        if frame.format.name == fmt:
            return frame.to_ndarray()
        return self.convert.reformat(frame, format=fmt, threads=self.threads(frame)).to_ndarray()
