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

    When at least ``steady`` of the intervals are within ``tolerance`` of the median one (a
    constant-rate source, also one whose first frame comes late, as a transport stream cut
    mid-GOP, or that lost a few frames, as a cut tail's B-frames): 1 / the mean of those
    intervals, snapped to a whole, half or NTSC (x 1000/1001) rate within 0.1 % (so
    millisecond timestamps, 41 and 42 ms for 24 fps, give 24, and every prefix of a source
    gives the same rate). Counting frames over the time from the stream's start gave 22.5
    fps for a 25 fps file there, and clips that skipped every tenth frame; the median
    interval alone gave 23.81 for 24 fps in Matroska. Otherwise (variable rate): intervals
    per second, or the rate of the typical interval when that is higher (1 / the mean of
    the intervals within 25 % of the median, rounded to a whole rate within 2 %: clips take
    frames by time, so the grid's rate moves no frame in time; else 1 / the median): a screen or
    phone recording with jittery times that sends no frame while the picture stands still
    had been given its frames over its whole time, 7.5 fps for a 30 fps scroll, and its
    clips dropped three frames in four (a break test). Intervals that are not positive
    (times that repeat) do not count. None without a positive interval.
    """
    if len(times) < 2:
        return None
    gaps = np.diff(np.asarray(times, np.float64))
    gaps = gaps[gaps > 0]  # repeated times (joined files' clocks restarting, sorted packet times)
    if not len(gaps):
        return None
    med = float(np.median(gaps))
    near = np.abs(gaps - med) <= tolerance * med
    if float(np.mean(near)) >= steady:
        return snap_rate(1.0 / float(gaps[near].mean()))
    core = gaps[np.abs(gaps - med) <= 0.25 * med]
    typical = 1.0 / (float(core.mean()) if len(core) else med)
    if len(core) and abs(round(typical) - typical) <= 0.02 * typical:
        typical = float(round(typical))
    return max(len(gaps) / float(gaps.sum()), typical)


def snap_rate(rate: float, within: float = 1e-3) -> float:
    """``rate`` (fps) replaced by the nearest whole, half or NTSC rate (``n * 1000 / 1001``)
    when one is within ``within`` of it (relative), else unchanged. Of several within
    reach the nearest wins (a whole rate on a tie): an NTSC rate lies exactly 0.1 % from
    its whole one, so taking the first in reach had made 29.97, 23.976 and 59.94 fps
    sources 30, 24 and 60 fps as floating-point rounding fell (a break test)."""
    near = [c for c in (round(rate), round(rate * 2) / 2, round(rate * 1.001) / 1.001)
            if c > 0 and abs(c - rate) <= within * rate]
    return float(min(near, key=lambda c: abs(c - rate))) if near else rate


def untimed_rate(stream) -> float:
    """Frames per second to time a stream whose packets carry no timestamps (a raw H.264 or
    HEVC elementary stream): the rate its bitstream states (the SPS timing, PyAV's
    ``codec_context.framerate``), else the demuxer's guess, else 25 (the raw demuxers'
    own default, which ``average_rate`` reports even when the SPS says 30)."""
    for value in (stream.codec_context.framerate, stream.guessed_rate, stream.average_rate):
        if value is not None and value.numerator > 0 and value.denominator > 0:
            return float(value)
    return 25.0
