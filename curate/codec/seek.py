"""Seeking and decoding until FFmpeg fails, for :func:`curate.codec.decode.iter_frames`.

A span's decode seeks to the keyframe at or before its start and checks where it landed
(MPEG-TS and MPEG-PS are searched by byte position; some AVI indexes mark every packet a
keyframe), seeking again earlier until every frame from the target on is decoded
(``tests/curate/test_seek.py`` checks spans against a full decode). A decode that fails
after its first frame keeps the frames already produced and says so
(:func:`ends_on_error`).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

import av

from curate.codec.errors import classify
from curate.codec.timestamps import best_effort


def seek_frames(container, stream, target_s: float, base_s: float, on_error=None,
          last_t=lambda: None) -> Iterator[av.VideoFrame]:
    """Frames decoded from a seek to the keyframe at or before ``target_s`` (seconds from
    the stream start ``base_s``). A seek by timestamp can land after the target, or after
    the last keyframe before the end (MPEG-TS and MPEG-PS are searched by byte position,
    landing on the packet nearest in decode time): when the first frame is later than the
    target, or none decodes, it seeks again 1, 2, 4, ... seconds earlier, and at the last to
    the file's start (:func:`rewind`), so every frame from the target on is decoded
    (before, the gap was filled with the first frame). A frame without a timestamp is taken
    as on time. A landing whose first frame is not a keyframe is treated as late too: a
    container index that marks every packet a keyframe (some MPEG-4 Part 2 AVIs) sends
    the seek to a predicted frame, which FFmpeg decodes without its reference (garbage)."""
    tb = float(stream.time_base)
    back = 0.0
    while True:
        at = target_s - back if back < target_s else -1.0
        if at < 0.0:
            rewind(container, stream, base_s)
        else:
            container.seek(int((base_s + at) / tb), stream=stream, backward=True)
        frames = best_effort(decode_until_error(container, stream, on_error, last_t))
        first = next(frames, None)
        if at < 0.0 or (first is not None and first.key_frame
                        and (first.pts is None or first.pts * tb - base_s <= target_s + 1e-4)):
            return frames if first is None else chain([first], frames)
        frames.close()
        back = max(1.0, 2 * back)


def rewind(container, stream, base_s: float) -> None:
    """Seek to the start of the video stream: to a second before its start time (a seek to
    the start time itself lands after a first keyframe that decodes before it shows, as
    with B-frames in MPEG-TS; time 0 of the whole file can be inside a stream whose clock
    wraps), else, where the demuxer refuses a time before the start (AVI), to the start."""
    tb = float(stream.time_base)
    try:
        container.seek(int((base_s - 1.0) / tb), stream=stream, backward=True)
    except av.error.FFmpegError:
        container.seek(int(base_s / tb), stream=stream, backward=True)


def decode_until_error(container, stream, on_error=None, last_t=lambda: None) -> Iterator[av.VideoFrame]:
    """``container.decode(stream)`` through :func:`ends_on_error`."""
    return ends_on_error(container.decode(stream), on_error, last_t)


def ends_on_error(frames, on_error=None, last_t=lambda: None) -> Iterator[av.VideoFrame]:
    """``frames`` (a decode, or a filter graph over one) until FFmpeg fails: before the
    first frame the failure is raised as a :class:`CodecError`; after it the frames
    already produced stand (the pass ends early) and ``on_error(error, last_t())`` is told."""
    produced = False
    try:
        for frame in frames:
            produced = True
            yield frame
    except av.error.FFmpegError as exc:
        if not produced:
            raise classify(exc) from exc
        if on_error is not None:
            on_error(classify(exc), last_t())
        return
