"""From shot boundaries to clip spans: trim at cuts, drop short shots, window long ones.

Rules (after PySceneDetect's ``split-video`` and Cosmos-Curate's fixed-stride splitting):

- Frames inside a gap (a gradual transition or blank stretch, half-open frame interval
  from :class:`curate.split.shots.Boundaries`) belong to no shot: a gap ends the shot before it
  and the next shot starts at its end.
- Frames within ``trim_s`` of a cut or gap edge are removed from both neighbouring shots,
  so no clip holds a frame of the other shot (detectors can be a frame late on soft cuts).
  The first and last frame of the source are not trimmed.
- A shot shorter than ``min_clip_s`` after trimming is dropped (``too_short``).
- A shot longer than ``max_clip_s`` is cut into ``k = ceil(d / max)`` consecutive
  windows of equal frame count (so none exceeds ``max``), or of equal time where the
  frame rate varies (:func:`_equal_pieces`). When equal windows would be
  shorter than ``min_clip_s``, windows of exactly ``max_clip_s`` are taken from the
  start instead and the remainder is dropped as ``too_short``.

Times are presentation times (seconds from the stream start); ``frame_times[i]`` is
frame ``i``'s time and ``end_time`` the end of the last frame.
"""

from __future__ import annotations

import math

import numpy as np

from schemas import Span

_EPS = 1e-6


class _Clock:
    """Start and end times of frame indices, robust to holes in the timestamps.

    ``start(i)`` is frame ``i``'s presentation time (``end_time`` for ``i == n``).
    ``end(z)`` is when frame ``z - 1`` stops showing: the next frame's time, unless the
    timestamps jump there (:func:`is_break`: a hole longer than ``_HOLE`` frame intervals
    and :data:`HOLD_S` seconds, or time going backwards), where it is frame ``z - 1``'s
    time plus the median interval.
    """

    def __init__(self, frame_times: list[float], end_time: float):
        self.t, self.n, self.end_time = frame_times, len(frame_times), end_time
        gaps = np.diff(frame_times) if self.n > 1 else np.array([end_time - frame_times[0]])
        self.step = float(np.median(gaps)) if len(gaps) else 0.0

    def start(self, i: int) -> float:
        return self.t[i] if i < self.n else self.end_time

    def end(self, z: int) -> float:
        if z >= self.n:
            return self.end_time
        if z > 0 and is_break(self.t[z - 1], self.t[z], self.step):
            return self.t[z - 1] + self.step
        return self.t[z]


_HOLE = 10
HOLD_S = 5.0  # seconds a frame may stay on screen (a still stretch of a screen recording) and not be a break


def is_break(prev_t: float, t: float, step: float) -> bool:
    """True when the timestamps jump between two consecutive frames: backwards, or
    forwards by more than ``_HOLE`` median frame intervals (``step``, seconds) and more
    than :data:`HOLD_S` seconds. A shorter hole is a hold: the frame before it stays on
    screen until the next, as a variable-rate stream means (screen and phone recorders
    send no frame while the picture stands still; a GIF's long frame). A break test had
    cut a continuous 13 s screen recording with 2 s still stretches into five 0.5 s
    pieces, all too short; the shot detector still cuts a hole where the picture changes."""
    return t <= prev_t or (step > 0 and t - prev_t > max(_HOLE * step, HOLD_S))


def timestamp_breaks(frame_times: list[float]) -> list[int]:
    """Frame indices after a jump in the timestamps (see :func:`is_break`): a recording
    paused and resumed, or joined files whose clocks restart. They split shots like cuts."""
    if len(frame_times) < 2:
        return []
    step = float(np.median(np.diff(frame_times)))
    return [i for i in range(1, len(frame_times)) if is_break(frame_times[i - 1], frame_times[i], step)]


def _span(shot: int, win: int, a: int, z: int, clock: _Clock) -> Span:
    return Span(shot_index=shot, window_index=win, start_frame=a, end_frame=z,
                start_s=round(clock.start(a), 6), end_s=round(clock.end(z), 6))


def _equal_pieces(a: int, z: int, k: int, clock: _Clock) -> list[tuple[int, int]]:
    """``k`` consecutive windows ``(p, q)`` of frames ``a .. z - 1``: of equal frame count,
    or, where those would differ in length by more than two frame intervals (a variable
    frame rate: a break test's 11.93 s shot came out as 3.00 s and 8.93 s), each ending at
    the frame whose start is nearest an equal share of the time. At a steady rate the two
    are the same windows (at most a frame apart), and the first are kept."""
    bounds = [a + round(j * (z - a) / k) for j in range(k + 1)]
    lengths = [clock.end(q) - clock.start(p) for p, q in zip(bounds[:-1], bounds[1:])]
    if max(lengths) - min(lengths) > 2 * clock.step:
        starts = np.array([clock.start(i) for i in range(a, z + 1)])
        t0, dur = clock.start(a), clock.end(z) - clock.start(a)
        timed = [a]
        for j in range(1, k):
            i = a + int(np.argmin(np.abs(starts - (t0 + j * dur / k))))
            timed.append(min(max(i, timed[-1] + 1), z - (k - j)))  # at least a frame each
        bounds = timed + [z]
    return list(zip(bounds[:-1], bounds[1:]))


def _windows(a: int, z: int, clock: _Clock, min_s: float, max_s: float) -> list[tuple[int, int]]:
    dur = clock.end(z) - clock.start(a)
    k = max(1, math.ceil(dur / max_s - _EPS))
    while k <= z - a:
        pieces = _equal_pieces(a, z, k, clock)
        lengths = [clock.end(q) - clock.start(p) for p, q in pieces]
        if max(lengths) <= max_s + _EPS:
            if min(lengths) >= min_s - _EPS:
                return pieces
            break
        k += 1
    # Equal windows too short (or none fit): fixed windows of max_s from the start.
    out, p = [], a
    while p < z:
        q = p
        while q < z and clock.end(q + 1) - clock.start(p) <= max_s + _EPS:
            q += 1
        q = max(q, p + 1)
        out.append((p, q))
        p = q
    return out


def shot_ranges(cuts: list[int], gaps: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """Half-open frame ranges of the shots of an ``n``-frame source: ``[0, n)`` split at
    ``cuts``, minus the ``gaps``; empty ranges are left out."""
    keep = np.ones(n, bool)
    for s, e in gaps:
        keep[max(s, 0):max(min(e, n), 0)] = False
    bounds = [0] + sorted({c for c in cuts if 0 < c < n}) + [n]
    out = []
    for a, z in zip(bounds[:-1], bounds[1:]):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], keep[a:z].astype(np.int8), [0]])))
        out.extend((a + int(p), a + int(q)) for p, q in zip(edges[::2], edges[1::2]))
    return out


def plan_spans(cuts: list[int], frame_times: list[float], end_time: float, *, min_clip_s: float,
               max_clip_s: float, trim_s: float = 0.0,
               gaps: list[tuple[int, int]] = ()) -> tuple[list[Span], list[Span]]:
    """Turn cuts and gaps into clip spans.

    Args:
        cuts: frame indices where a new shot starts (from :class:`curate.split.shots.ShotDetector`).
        frame_times: presentation time of every decoded frame, seconds; a jump (a hole of
            over 10 frame intervals and over :data:`HOLD_S` seconds, or time going
            backwards) splits shots like a cut (:func:`is_break`).
        end_time: end of the last frame, seconds.
        min_clip_s, max_clip_s, trim_s: see the module docstring (seconds).
        gaps: half-open frame intervals in no shot (see the module docstring).

    Returns ``(kept, too_short)`` spans; ``too_short`` holds dropped shots/remainders.
    Raises ValueError when ``min_clip_s > max_clip_s``.
    """
    if min_clip_s > max_clip_s:
        raise ValueError(f"min_clip_s {min_clip_s} > max_clip_s {max_clip_s}")
    n = len(frame_times)
    clock = _Clock(frame_times, end_time)
    cuts = sorted(set(cuts) | set(timestamp_breaks(frame_times)))
    kept, short = [], []
    for shot, (a, z) in enumerate(shot_ranges(cuts, list(gaps), n)):
        if a > 0:
            t_cut = frame_times[a]
            while a < z and frame_times[a] < t_cut + trim_s - _EPS:
                a += 1
        if z < n:
            t_cut = clock.end(z)
            while z > a and frame_times[z - 1] > t_cut - trim_s - _EPS:
                z -= 1
        dur = clock.end(z) - clock.start(a)
        if z <= a or dur < min_clip_s - _EPS:
            short.append(_span(shot, 0, a, max(z, a), clock))
            continue
        pieces = _windows(a, z, clock, min_clip_s, max_clip_s)
        for win, (p, q) in enumerate(pieces):
            span = _span(shot, win, p, q, clock)
            (kept if span.duration_s >= min_clip_s - _EPS else short).append(span)
    return kept, short
