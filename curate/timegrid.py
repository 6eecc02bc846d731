"""The clip's time grid: how many frames a span's clip has, at what rate, and which source
frame each takes.

A clip is constant-rate at :func:`clip_rate`; its frame ``k`` is at ``start_s + k / fps``
and shows the last source frame at or before that time (:func:`resample`, as FFmpeg's
``fps`` filter maps frames), for the :func:`grid_frames` frames the span holds.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from curate.codec import DecodedFrame

# Timestamps in milliseconds (Matroska, WebM, FLV) put a span's ends up to half a
# millisecond off each: its duration can fall 1 ms short of a whole number of frames.
TIME_ROUNDING_S = 1e-3


def grid_frames(duration_s: float, fps: float) -> int:
    """Frames of a clip at ``fps`` for a span of ``duration_s`` seconds: the whole frames
    that fit, at least 1. A span within :data:`TIME_ROUNDING_S` of a whole number of
    frames has that number (a Matroska span of 34 frames at 30 fps, 4.867-6.0 s, is
    33.99 frames long by its times and keeps all 34: a break test found the last frame
    of such spans lost), so a clip never runs past its span by more than 1 ms."""
    return max(1, int(np.floor(duration_s * fps + 1e-3 + TIME_ROUNDING_S * fps)))


RATE_TOLERANCE = 0.05
"""How far (a share) a span's own frame rate may be over its source's before the clip takes
the span's: jitter of a variable-rate phone video stays under it."""


def clip_rate(source_fps: float, span, max_fps: float) -> float:
    """Frames per second of the clip of ``span`` (:class:`schemas.Span`): ``min(rate,
    max_fps)``, where rate is the source's (``source_fps``, for the whole source), or the
    span's own when that is more than :data:`RATE_TOLERANCE` higher: a file joining a
    25 fps shot and a 30 fps one averages 27.3 fps, and its 30 fps clip had been retimed to
    it, losing 3 frames in 40 (a break test). Never a lower rate: a span with fewer frames
    than its time holds at the source's rate may be a screen recording that sent no frame
    while its picture stood still (:func:`curate.codec.timestamps.frame_rate`), so the
    25 fps shot of that file still repeats a frame in ten, as before. The span's own rate
    is its frames over its seconds, which its ends put off a
    little (timestamps to the millisecond; a source's last span ends one typical interval
    of the whole source after its last frame: 30 fps measured 29.85 after a 25 fps shot),
    so it is taken up to the highest whole, half or NTSC (x 1000/1001) rate within 1 %
    (a rate a little high repeats a frame now and then; one a little low, 29.97 for 30,
    had dropped one in 2.5 s), else to 3 decimals."""
    rate = source_fps
    n, seconds = span.end_frame - span.start_frame, span.end_s - span.start_s
    if n >= 2 and seconds > 0 and rate > 0 and n / seconds > rate * (1 + RATE_TOLERANCE):
        own = n / seconds
        near = [c for c in (round(own), round(own * 2) / 2, round(own * 1.001) / 1.001)
                if c > 0 and abs(c - own) <= 0.01 * own]
        rate = float(max(near)) if near else round(own, 3)
    return min(rate, max_fps)


def resample(frames: Iterator[DecodedFrame], start_s: float, end_s: float, fps: float) -> Iterator[tuple[int, np.ndarray]]:
    """Map source frames onto a constant-rate grid ``start_s + k / fps`` for the
    :func:`grid_frames` grid times of the span ``[start_s, end_s)``.

    Yields ``(k, image)``; output time k takes the last source frame whose time is
    at or before it (a quarter-frame tolerance absorbs rounding in timestamps).
    """
    n_out = grid_frames(end_s - start_s, fps)
    tol = 0.25 / fps
    k, prev = 0, None
    for frame in frames:
        while prev is not None and k < n_out and start_s + k / fps < frame.t_s - tol:
            yield k, prev
            k += 1
        prev = frame.image
    while prev is not None and k < n_out:
        yield k, prev
        k += 1
