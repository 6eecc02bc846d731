"""Time windows over a clip, and which frames of the clip's sample each window sees.

Long clips are captioned window by window (``window_s`` long, a new window every
``stride_s`` seconds), then the window captions are merged (:mod:`curate.captioning.merge`).
The windows cover ``[0, duration]`` with no gap: ``stride_s <= window_s`` makes each
window start at or before the end of the one before, the last window ends exactly at
the clip's end, and a remainder shorter than ``min_tail_s`` is absorbed into the last
window rather than captioned on its own. The sliding-window-then-merge scheme follows
the long-video captioning of cosmos-curate's captioning stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """A time range of a clip in seconds from the clip start; ``end_s`` is exclusive except at the clip end."""

    start_s: float
    end_s: float


def make_windows(duration_s: float, window_s: float, stride_s: float,
                 min_tail_s: float | None = None) -> list[Window]:
    """Windows covering ``[0, duration_s]`` (module docstring).

    ``min_tail_s`` defaults to half a stride. Raises ValueError when ``duration_s <= 0``,
    ``window_s <= 0`` or ``stride_s`` is not in ``(0, window_s]``.
    """
    if duration_s <= 0 or window_s <= 0:
        raise ValueError(f"need duration_s > 0 and window_s > 0, got {duration_s}, {window_s}")
    if not 0 < stride_s <= window_s:
        raise ValueError(f"stride_s must be in (0, window_s={window_s}], got {stride_s}")
    tail = stride_s / 2 if min_tail_s is None else min_tail_s
    out: list[Window] = []
    start = 0.0
    while True:
        end = min(start + window_s, duration_s)
        if duration_s - end < tail:
            end = duration_s
        out.append(Window(round(float(start), 6), round(float(end), 6)))
        if end >= duration_s:
            return out
        start += stride_s


def frames_in(window: Window, times: list[float], duration_s: float) -> list[int]:
    """Indices of the sampled frames (``times`` in seconds) that fall in ``window``.

    A frame at ``t`` belongs to ``[start_s, end_s)``, or to ``[start_s, end_s]`` for the
    window that ends the clip. A window with no sampled frame gets the one frame
    nearest its centre, so every window shows the model at least one image. Returned
    in increasing time order. Raises ValueError when ``times`` is empty.
    """
    if not times:
        raise ValueError("the clip has no sampled frames")
    last = window.end_s >= duration_s
    idx = [i for i, t in enumerate(times)
           if window.start_s <= t < window.end_s or (last and window.start_s <= t <= window.end_s)]
    if not idx:
        centre = (window.start_s + window.end_s) / 2
        idx = [int(np.argmin([abs(t - centre) for t in times]))]
    return sorted(idx, key=lambda i: times[i])


def covers_exactly(windows: list[Window], duration_s: float, tol: float = 1e-6) -> bool:
    """True when ``windows`` start at 0, end at ``duration_s`` and leave no gap between them."""
    if not windows or abs(windows[0].start_s) > tol or abs(windows[-1].end_s - duration_s) > tol:
        return False
    reach = windows[0].end_s
    for w in windows[1:]:
        if w.start_s > reach + tol or w.end_s < w.start_s:
            return False
        reach = max(reach, w.end_s)
    return abs(reach - duration_s) <= tol
