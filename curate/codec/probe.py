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
from typing import NamedTuple

import av
import numpy as np

from curate.codec.errors import CodecError, open_container
from curate.codec.interlace import detect_field_order
from curate.codec.isobmff import is_truncated_mp4
from curate.codec.matroska import header_duration, segment_extent
from curate.codec.picture import orientation, picture_facts, sample_aspect
from curate.codec.riff import riff_overrun
from curate.codec.streams import video_stream_index
from curate.codec.timestamps import frame_rate, untimed_rate


@dataclass(frozen=True)
class ProbeResult:
    """Facts of the source's video stream
    (:func:`curate.codec.streams.pick_video_stream`). ``width``/``height``
    are as displayed (after rotation); ``stream_index`` is that stream's index in the
    container (``container.streams[i]``), which every later decode of the source uses.

    ``rotation`` and ``hflip``: :func:`curate.codec.picture.orientation`.

    ``duration_s`` and ``fps`` come from packet timestamps (the last frame lasts its
    packet's declared duration where the container's durations are the frames' own, as a
    GIF's delays are, else a typical interval: :func:`_last_frame_s`); ``num_frames`` counts
    video packets with a timestamp (the split pass later replaces it with the
    number of frames that actually decode).

    Picture facts (:func:`curate.codec.picture.picture_facts`): ``sar`` is the coded pixels' sample aspect
    ratio (``num:den``; ``width`` is the coded width times it, so width x height is
    the display size in square pixels); ``color_range`` ``tv``/``pc``/``unknown``,
    ``color_primaries`` and ``color_transfer`` are FFmpeg's names
    (:mod:`curate.codec.colour`); ``field_order`` is
    :func:`curate.codec.interlace.field_order_name`'s.
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
    stream_index: int = 0
    hflip: bool = False
    sar: str = "1:1"
    color_range: str = "unknown"
    color_primaries: str = "unknown"
    color_transfer: str = "unknown"
    field_order: str = "unknown"


def _packet_times(container: av.container.InputContainer, stream) -> tuple[np.ndarray, float]:
    """Sorted presentation times (seconds, float64) of the stream's packets, and the
    duration (seconds) the container declares for the packet presented last, or 0 where
    it declares none or its durations are not the frames' own: then some other packet's
    declared duration differs from the interval to the next frame by more than a tick (a
    muxer that gives every packet the nominal 1 / rate of variable-rate video). A stream
    whose packets carry no timestamp at all (a raw H.264 or HEVC elementary stream) gets
    one time per packet at its nominal rate, as its decode will
    (:func:`curate.codec.iter_frames`), and no last duration."""
    tb = float(stream.time_base)
    timed, count = [], 0
    for p in container.demux(stream):
        if p.size > 0:
            count += 1
            if p.pts is not None:
                timed.append((p.pts, p.duration or 0))
    if count and not timed:
        return np.arange(count, dtype=np.float64) / untimed_rate(stream), 0.0
    timed.sort()
    ticks = np.asarray(timed, dtype=np.float64).reshape(-1, 2)
    own = len(ticks) > 1 and bool(np.all(np.abs(ticks[:-1, 1] - np.diff(ticks[:, 0])) <= 1))
    return ticks[:, 0] * tb, float(ticks[-1, 1] * tb) if own else 0.0


def _last_frame_s(times: np.ndarray, declared: float, header_end: float | None, fps: float) -> float:
    """How long the last frame of a stream with packet ``times`` (seconds) is shown.

    Its packet's ``declared`` duration (seconds, 0 for none) when it is no longer than the
    longest interval between frames or agrees with the stream header's end ``header_end``
    (seconds from the first frame, None when the header has none) within a typical
    interval: a GIF's held last frame (its delay, 0.5 s where the others last 20 ms) or a
    slideshow's. Otherwise (no duration, or one past both) a typical interval: the median
    one, or for a one-frame video 1 / ``fps`` (0 when no rate is known).
    """
    gaps = np.diff(times)
    typical = float(np.median(gaps)) if len(gaps) else (1.0 / fps if fps > 0 else 0.0)
    if declared <= 0:
        return typical
    if len(gaps) and declared <= float(gaps.max()) * (1 + 1e-6):
        return declared
    if header_end is not None and abs(times[-1] - times[0] + declared - header_end) <= max(typical, 1e-3):
        return declared
    return typical


def _header_end(stream, times: np.ndarray) -> float | None:
    """The stream header's end (start time plus duration) in seconds from the first frame
    of ``times``; None when the header gives no duration or there is no frame."""
    if not stream.duration or not stream.time_base or not len(times):
        return None
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else float(times[0])
    return start + float(stream.duration * stream.time_base) - float(times[0])


def _is_vfr(times: np.ndarray, tolerance: float = 0.1) -> bool:
    """True when more than 5% of frame intervals differ from the median by over ``tolerance``."""
    if len(times) < 3:
        return False
    gaps = np.diff(times)
    med = float(np.median(gaps))
    if med <= 0:
        return False
    return float(np.mean(np.abs(gaps - med) > tolerance * med)) > 0.05


def _animated_webp(path: str) -> bool:
    """Whether ``path`` is a WebP with an animation (a ``VP8X`` header with its animation
    flag, then ``ANIM``/``ANMF`` chunks); a still one that fails to decode is damaged."""
    try:
        with open(path.removeprefix("file://"), "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02)


def _first_frame(path: str, index: int):
    with open_container(path) as container:
        stream = container.streams[index]
        for frame in container.decode(stream):
            return frame
    return None


_AUDIO_MARGIN_S = 1.0  # seconds a video may end before a file's last stream and still be whole


class Claim(NamedTuple):
    """What the index or header of a file cut short says of its video stream: ``frames``,
    ``seconds`` (None when it gives no duration), ``said``, how it says so (for a reject
    row's detail), and ``damaged``: the file is whole-sized but damaged inside."""

    frames: int
    seconds: float | None
    said: str
    damaged: bool = False


_AVI_UNWRITTEN = 1 << 30
"""The frame count FFmpeg leaves in an AVI header it could not seek back to (a pipe)."""


def index_claim(path: str, index: int, held_s: float | None = None) -> Claim | None:
    """What the index of an MP4/MOV cut short (:func:`curate.codec.isobmff.is_truncated_mp4`:
    a complete ``moov`` at the front, the media data cut off) lists for video stream
    ``index``; for a Matroska/WebM file cut short (its Segment's declared size runs past the
    file's end: :func:`curate.codec.matroska.segment_extent`) the header's duration and the
    frames it holds at the stream's rate, or, when the header has no duration (a muxer that
    wrote the Segment's size but no ``Duration``: such a cut had kept its prefix without a
    row), an estimate: the video the file holds, scaled by the bytes declared over the bytes
    there (off where the bitrate changes: a still half then a busy half, cut at a tenth,
    gave 5.5 times the true length; x264's large first keyframe makes it short); for an AVI
    cut short (its ``RIFF`` chunk runs past the file's end: :func:`curate.codec.riff.riff_overrun`)
    the frame count and duration of its header. None for any other file, or when the
    index lists no frames (fragmented MP4).
    Such a file decodes its prefix without an error (FFmpeg's threaded decoders drop a last,
    partial packet quietly), so only the index tells what is missing.

    ``held_s``: the seconds of video the caller found (probed or decoded). A whole-sized
    Matroska/WebM file whose header states more than that (by over ``_AUDIO_MARGIN_S``),
    where no audio or video stream reads further, is damaged inside: FFmpeg's demuxer stops
    at a broken element ("exceeds containing master element") as at an end, and a break
    test's 30 KB of garbage mid-file had kept the first 1.8 s of 4 with no row; its header's
    duration is claimed too. Raises :class:`CodecError` when the file cannot be opened."""
    extent = segment_extent(path)
    if extent is not None and (extent[0] > extent[1] or held_s is not None):  # Matroska/WebM
        cut = extent[0] > extent[1]
        if not cut and (not (stated := header_duration(path)) or stated <= held_s + _AUDIO_MARGIN_S):
            return None  # whole: the video read reaches the header's duration (read without FFmpeg: 3 ms less)
        with open_container(path) as container:
            stream = container.streams[index]
            rate = stream.average_rate or stream.guessed_rate
            seconds = container.duration / av.time_base if container.duration else None
            ends = _stream_ends(container) if len(container.streams) > 1 or not seconds else {}
        if not rate:
            return None
        if ends.get(index) is not None and max(ends.values()) - ends[index] > _AUDIO_MARGIN_S:
            return None  # the cut is in a longer audio track: every video frame is there
        if not cut:
            said = (f"its header states {seconds:.3f} s, and reading stops at {max(ends.values(), default=held_s):.3f} s "
                    "(a damaged element)")
        elif seconds:
            said = f"its header states {seconds:.3f} s"
        else:
            held = ends.get(index)
            if not held:
                return None
            seconds = held * extent[0] / extent[1]
            said = (f"its header declares {extent[0]} bytes and {extent[1]} are there, so about "
                    f"{seconds:.3f} s (no duration in its header: the {held:.3f} s held, scaled by the bytes)")
        return Claim(max(1, round(seconds * float(rate))), seconds, said, damaged=not cut)
    avi = riff_overrun(path)  # an AVI cut short: its header's frame count
    if not avi and not is_truncated_mp4(path):
        return None
    with open_container(path) as container:
        stream = container.streams[index]
        frames = int(stream.frames or 0)
        seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
        if avi:  # FFmpeg's duration is what it found before the cut; the header's rate is the file's
            seconds = frames / float(stream.average_rate) if stream.average_rate else None
            if frames >= _AVI_UNWRITTEN:  # a count never written (a pipe): nothing to claim
                return None
    said = f"its header lists {frames} frames" if avi else f"its index lists {frames} frames"
    return Claim(frames, seconds, said) if frames > 0 else None


def _stream_ends(container) -> dict[int, float]:
    """Each audio and video stream's end in seconds (its last packet's time plus duration),
    by stream index, from one demux of ``container``. Streams are interleaved, so in a file cut short every
    stream ends near the cut, and a video ending more than ``_AUDIO_MARGIN_S`` before the
    last stream was complete (audio longer than video: the header's duration is the audio's;
    found by a break test)."""
    ends: dict[int, float] = {}
    for packet in container.demux():  # audio and video: a subtitle's last cue can end early or late
        if packet.stream.type not in ("audio", "video"):
            continue
        if packet.pts is not None and packet.time_base is not None:
            t = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            ends[packet.stream.index] = max(ends.get(packet.stream.index, t), t)
    return ends


def probe(path: str) -> ProbeResult:
    """Probe ``path`` (a local path or anything ``av.open`` takes).

    The video stream is :func:`curate.codec.streams.pick_video_stream`'s (cover art and
    still images skipped).
    Raises :class:`CodecError` with reason ``no_video_stream`` (no video stream, or only
    cover art),
    ``unsupported_codec`` (no decoder in this FFmpeg build), ``truncated`` (no
    packet or no frame decodes) or ``decode_error`` (the container cannot be read).
    """
    index = video_stream_index(path)
    with open_container(path) as container:
        stream = container.streams[index]
        ctx = stream.codec_context
        if ctx is None or not ctx.name:
            raise CodecError("unsupported_codec", "no decoder for the video stream: FFmpeg names no codec "
                             "for it (a codec this build lacks, or a damaged header)")
        codec, pix_fmt = ctx.name, ctx.pix_fmt or ""
        width, height = ctx.width, ctx.height
        sar, stream_field_order = sample_aspect(stream), ctx.field_order
        has_audio = bool(container.streams.audio)
        demuxer = container.format.name
        times, last_declared = _packet_times(container, stream)
        declared = float(stream.average_rate or stream.guessed_rate or 0)  # read while open: 0 once closed
        header_end = _header_end(stream, times)
    if len(times) == 0:
        raise CodecError("truncated", "no video packets")
    try:
        frame = _first_frame(path, index)
    except CodecError as exc:
        if codec == "webp" and exc.reason == "decode_error" and _animated_webp(path):  # FFmpeg decodes still WebP only
            raise CodecError("unsupported_codec", "animated WebP: this FFmpeg's webp decoder reads still "
                             "WebP only; convert it first (e.g. to APNG or MP4 with Pillow)") from exc
        raise
    if frame is None:
        raise CodecError("truncated", "no frame decodes")
    if len(times) == 1 and (demuxer == "image2" or demuxer.endswith("_pipe")):  # a photo named .mp4 (a break test)
        raise CodecError("no_video_stream", f"a still {codec} image ({demuxer} demuxer), not a video")
    rotation, hflip = orientation(frame)
    fps = frame_rate(times) or declared
    # a one-frame video's one frame lasts 1 / its declared rate (a break test: "0.000 s"
    # and fps 0, the stream's rate read once closed)
    duration = float(times[-1] - times[0] + _last_frame_s(times, last_declared, header_end, fps))
    width = max(1, round(width * sar))  # display width: square pixels
    if rotation in (90, 270):
        width, height = height, width
    facts = picture_facts(frame, sar, stream_field_order)
    if facts["field_order"] == "unknown":  # the stream and the first frame say nothing: idet looks
        facts["field_order"] = detect_field_order(path, index)
    return ProbeResult(**facts,
        duration_s=duration, fps=fps, vfr=_is_vfr(times), num_frames=len(times),
        width=width, height=height, rotation=rotation, hflip=hflip, codec=codec, pix_fmt=pix_fmt,
        has_audio=has_audio, stream_index=index,
    )
