"""Best-effort presentation timestamps for decoded frames, as FFmpeg guesses them.

A decoded frame carries two times: the ``pts`` that reached the decoder with the packet
that completed it (reordered by the decoder), and the ``dts`` of that packet. Most
containers store true presentation times, and the frames' ``pts`` increase. Some do not:
AVI (and other VfW-style files) give each packet a time in storage order, so H.264 or
MPEG-4 with B-frames decodes to frames whose ``pts`` jump back and forth (1, 4, 3, 5, 2,
...) while their ``dts`` count up one frame at a time. Taken at face value those times
look like clock resets, and a 2.9 s file became 7 s of repeated frames.

FFmpeg's answer is ``AVFrame.best_effort_timestamp`` (``guess_correct_pts`` in
libavcodec/decode.c): count how often each of ``pts`` and ``dts`` failed to increase,
and use ``pts`` unless it has failed more often than ``dts`` (or there is no ``dts``).
PyAV does not expose that field, so :func:`best_effort` computes it the same way, with one
difference: the counts are first taken over a few frames ahead, so the choice is right
from the first frame (FFmpeg's counts start at zero and can take one wrong ``pts`` before
the first fault is seen).

:func:`frame_rate` gives a decode's frame rate from its frame times.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

import av
import numpy as np

LOOKAHEAD = 8
"""Frames read ahead to seed the fault counts (a B-frame pyramid shows its first fault
within its first few frames)."""


class PtsGuess:
    """FFmpeg's ``guess_correct_pts`` state for one decode: fault counts of ``pts`` and ``dts``."""

    def __init__(self) -> None:
        self.faulty_pts = self.faulty_dts = 0
        self.last_pts = self.last_dts = None

    def observe(self, pts: int | None, dts: int | None) -> None:
        """Count a frame's timestamps (stream time-base ticks; None where unknown)."""
        if dts is not None:
            self.faulty_dts += self.last_dts is not None and dts <= self.last_dts
            self.last_dts = dts
        elif pts is not None:
            self.last_dts = pts
        if pts is not None:
            self.faulty_pts += self.last_pts is not None and pts <= self.last_pts
            self.last_pts = pts
        elif dts is not None:
            self.last_pts = dts

    def choose(self, pts: int | None, dts: int | None) -> int | None:
        """The best-effort timestamp of a frame, given the faults counted so far: ``pts``
        unless it failed more often than ``dts``, then ``dts``. None when the trusted one is
        unknown and ``pts`` is not trusted (the last frames out of a decoder flushed at the
        end of an AVI have no ``dts``): the caller times such a frame one frame interval
        after the previous one, where FFmpeg would take the untrusted ``pts``."""
        if self.faulty_pts <= self.faulty_dts:
            return pts if pts is not None else dts
        return dts


def best_effort(frames: Iterator[av.VideoFrame], lookahead: int = LOOKAHEAD) -> Iterator[av.VideoFrame]:
    """Decoded frames (presentation order) with ``frame.pts`` set to the best-effort timestamp.

    ``frames``: one decode's frames, from its start or from a seek. The first
    ``lookahead`` frames are counted before any is yielded (they are held in memory,
    decoded); after that every frame is counted as it arrives, as FFmpeg does. A frame
    without a usable timestamp (:meth:`PtsGuess.choose`) gets ``pts`` None.
    """
    guess = PtsGuess()
    ahead = list(islice(frames, lookahead))
    for frame in ahead:
        guess.observe(frame.pts, frame.dts)
    for frame in ahead:
        frame.pts = guess.choose(frame.pts, frame.dts)
        yield frame
    del ahead
    for frame in frames:
        pts, dts = frame.pts, frame.dts
        guess.observe(pts, dts)
        frame.pts = guess.choose(pts, dts)
        yield frame


def frame_rate(times, steady: float = 0.8, tolerance: float = 0.1) -> float | None:
    """Frames per second of a decode's frame times (seconds, increasing).

    1 / the median frame interval when at least ``steady`` of the intervals are within
    ``tolerance`` of it: a constant-rate source, also one whose first frame comes late (a
    transport stream cut mid-GOP starts at its first keyframe) or that lost a few frames
    (a cut at the tail drops B-frames); counting frames over the time from the stream's
    start there gave 22.5 fps for a 25 fps file, and clips that skipped every tenth frame.
    Otherwise (variable rate) the frames per second from the first frame to the end of the
    last, which is one median interval long. None for fewer than two frames.
    """
    if len(times) < 2:
        return None
    gaps = np.diff(np.asarray(times, np.float64))
    med = float(np.median(gaps))
    if med <= 0:
        return None
    if float(np.mean(np.abs(gaps - med) <= tolerance * med)) >= steady:
        return 1.0 / med
    return len(times) / (float(times[-1]) - float(times[0]) + med)
