"""Streaming shot analysis: a growing thumbnail buffer and the dissolve/fade scan done as frames arrive.

Scanning every window ``(a, a + L)`` of a whole thumbnail sequence once the source has
been decoded (:func:`curate.split.transitions.find_gradual`) took about 10 s of one core
after the decode of a 10-minute 1080p source, with nothing else to do meanwhile. Each
window's verdict depends only on the frames ``a .. a + L``, so :class:`GradualScan`
judges the windows as soon as their last frame is in, in batches of new frames, and
gives the same result at the end whatever the batches (``find_gradual`` is this scan run
once over a whole sequence; tested). It also tells the intervals found so far, which the
one-decode pass uses to plan clips before the source ends (:mod:`curate.speculate`).

:class:`ThumbBuffer` keeps the thumbnails in one growing ``(n, h, w, 3) uint8`` array
(capacity doubled when full), so scans and window views need no ``np.stack`` of a list.
"""

from __future__ import annotations

import numpy as np

from curate.split.transitions import BlendTest, merge_intervals, spatial_var, window_change


class ThumbBuffer:
    """Thumbnails of one source, ``(h, w, 3) uint8`` each, in a growing array.

    ``view()`` is the ``(n, h, w, 3) uint8`` array of the ``n`` thumbnails appended so
    far (a view: valid until the next ``append``). Raises ValueError on a thumbnail of
    another shape than the first.
    """

    def __init__(self, capacity: int = 256):
        self._buf: np.ndarray | None = None
        self._capacity = max(1, capacity)
        self.n = 0

    def append(self, thumb: np.ndarray) -> None:
        if self._buf is None:
            self._buf = np.empty((self._capacity, *thumb.shape), np.uint8)
        elif thumb.shape != self._buf.shape[1:]:
            raise ValueError(f"thumbnail {thumb.shape} differs from {self._buf.shape[1:]}")
        if self.n == len(self._buf):
            grown = np.empty((2 * len(self._buf), *self._buf.shape[1:]), np.uint8)
            grown[:self.n] = self._buf
            self._buf = grown
        self._buf[self.n] = thumb
        self.n += 1

    def view(self) -> np.ndarray:
        if self._buf is None:
            return np.empty((0, 8, 32, 3), np.uint8)
        return self._buf[:self.n]

    def __len__(self) -> int:
        return self.n


class GradualScan:
    """:func:`curate.split.transitions.find_gradual` done incrementally.

    Args:
        lengths: window lengths to scan, frames (those under 3 are skipped, like
            ``find_gradual``).
        test: the window test (default :class:`curate.split.transitions.BlendTest`).

    Call :meth:`scan` with the thumbnails seen so far (``(n, h, w, 3) uint8``, the same
    array growing); every window whose last frame is in is judged once. :meth:`result`
    after the last frame equals ``find_gradual(thumbs, lengths, test)``;
    :meth:`intervals` gives the intervals of the windows judged so far.
    """

    def __init__(self, lengths: list[int], test: BlendTest | None = None):
        self.lengths = sorted({int(x) for x in lengths if x >= 3})
        self.test = test or BlendTest()
        self._next = {x: 0 for x in self.lengths}  # first window start not judged yet
        self._var = np.empty(0, np.float32)
        self.found: list[tuple[int, int]] = []  # windows passing steps 1-3
        self.sure: list[tuple[int, int]] = []  # ... and step 4

    def scan(self, thumbs: np.ndarray) -> None:
        """Judge every window ``(a, a + L)`` with ``a + L < len(thumbs)`` not judged yet."""
        n = len(thumbs)
        if n > len(self._var):  # per-frame spatial variance of the new frames only
            self._var = np.concatenate([self._var, spatial_var(thumbs[len(self._var):n])])
        var = self._var
        for length in self.lengths:
            a0 = self._next[length]
            if n - length <= a0:
                continue
            # the frames a0 .. n-1 hold the windows a0 .. n-length-1
            change = window_change(thumbs[a0:n], length)
            mid = var[a0 + length // 2:a0 + length // 2 + len(change)]
            ends = 0.5 * (var[a0:a0 + len(change)] + var[a0 + length:a0 + length + len(change)])
            for a in np.flatnonzero((change >= self.test.min_change) & (mid <= ends)) + a0:
                hit = self.test.check(thumbs, var, int(a), int(a) + length)
                if hit is not None:
                    self.found.append(hit[0])
                    if hit[1]:
                        self.sure.append(hit[0])
            self._next[length] = n - length

    def intervals(self, lo: int = 0) -> list[tuple[int, int]]:
        """Merged half-open intervals (frames) of the windows judged so far that hold a
        coherent window, like ``find_gradual``'s result; only those ending after ``lo``."""
        found = [g for g in self.found if g[1] > lo]
        sure = [s for s, e in self.sure if e > lo]
        return [g for g in merge_intervals(found, gap=1) if any(g[0] <= s < g[1] for s in sure)]

    def result(self, thumbs: np.ndarray) -> list[tuple[int, int]]:
        """Scan what is left of ``thumbs`` (every frame of the source) and return the
        intervals, as ``find_gradual(thumbs, lengths, test)`` would."""
        self.scan(thumbs)
        return [g for g in merge_intervals(self.found, gap=1) if any(g[0] <= s < g[1] for s, _ in self.sure)]
