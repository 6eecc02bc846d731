"""Streaming shot analysis: a growing thumbnail buffer and the dissolve/fade (and wipe,
:mod:`curate.split.wipes`) scan done as frames arrive.

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

from curate.split.transitions import BlendTest, merge_intervals, spatial_var, thumb_luma, window_change
from curate.split.spikes import relit
from curate.split.wipes import FrameChanges, WipeTest, comes_back, same_view, screen, slides


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

    def __init__(self, lengths: list[int], test: BlendTest | None = None, wipes: WipeTest | None = None):
        self.lengths = sorted({int(x) for x in lengths if x >= 3})
        self.test = test or BlendTest()
        self.wipe_test = wipes or WipeTest()
        self.wipes: list[tuple[int, int]] = []  # wipes found (:mod:`curate.split.wipes`)
        self._pending: list[tuple[tuple[int, int], int, int]] = []  # (interval, a, b) awaiting comes_back
        self.horizon = 2 * max(self.lengths, default=0)  # frames after a wipe that must not bring its start back
        self._next = {x: 0 for x in self.lengths}  # first window start not judged yet
        self._var = np.empty(0, np.float32)
        self._luma = np.empty((0, 0), np.float32)  # thumbnail luma, for the wipe screen
        self._changes = FrameChanges()  # distances between frames, shared by the overlapping wipe windows
        self.found: list[tuple[int, int]] = []  # windows passing steps 1-3
        self.sure: list[tuple[int, int]] = []  # ... and step 4

    def luma(self, lo: int, hi: int) -> np.ndarray | None:
        """The thumbnail luma the scan keeps for frames ``lo .. hi - 1`` (``(hi - lo, p)
        float32``, :func:`curate.split.transitions.thumb_luma`), or None where it has not
        scanned that far."""
        return self._luma[lo:hi] if hi <= len(self._luma) else None

    def scan(self, thumbs: np.ndarray) -> None:
        """Judge every window ``(a, a + L)`` with ``a + L < len(thumbs)`` not judged yet."""
        n = len(thumbs)
        if n > len(self._var):  # per-frame spatial variance of the new frames only
            new = thumbs[len(self._var):n]
            self._var = np.concatenate([self._var, spatial_var(new)])
            luma = thumb_luma(new)
            self._luma = np.concatenate([self._luma, luma]) if len(self._luma) else luma
        var = self._var
        self._changes.update(thumbs, {1} | {self.wipe_test.stretch_of(x) for x in self.lengths})
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
            starts = np.flatnonzero(change >= self.test.min_change) + a0
            for a in starts[screen(self._luma, length, starts)]:
                a, b = int(a), int(a) + length
                wipe = self.wipe_test(thumbs, a, b, lambda ea, eb: self.test.spread(ea, eb, var[a], var[b]),
                                      self._changes)
                if wipe is not None:
                    self._pending.append((wipe, a, b))
            self._next[length] = n - length
        self._changes.drop(min(self._next.values(), default=n))  # no window starts before these again
        self._settle(thumbs, final=False)

    def _settle(self, thumbs: np.ndarray, final: bool) -> None:
        """Judge the pending wipe windows, merged into runs, once ``horizon`` frames after a
        run are in (every run when ``final``; no later window can join it by then): a run is
        a wipe when the picture before it and the one after it do not come back
        (:func:`curate.split.wipes.comes_back`, with the frames just outside the run as its
        ends, so windows inside a passing object's crossing are judged by the whole) and
        are not one view under other light (:func:`curate.split.wipes.same_view`,
        :func:`curate.split.spikes.relit`), and the picture does not move as a whole
        (:func:`curate.split.wipes.slides`)."""
        n = len(thumbs)
        runs = merge_intervals([w for w, _, _ in self._pending], gap=1)
        done = [r for r in runs if final or r[1] + self.horizon < n]
        for s, e in done:
            a, b = max(s - 1, 0), min(e, n - 1)
            around = float(np.abs(thumbs[a].astype(np.int16) - thumbs[max(a - 1, 0)]).mean())
            if not (comes_back(thumbs, a, b, self.horizon) or same_view(thumbs[a], thumbs[b])
                    or relit(thumbs[a], thumbs[b], around) or slides(thumbs, s, e)):
                self.wipes.append((s, e))  # (same view, relit: a light or a shadow swept across it)
        self._pending = [p for p in self._pending if not any(s <= p[0][0] < e for s, e in done)]

    def intervals(self, lo: int = 0) -> list[tuple[int, int]]:
        """Merged half-open intervals (frames) of the windows judged so far that hold a
        coherent window, like ``find_gradual``'s result; only those ending after ``lo``."""
        found = [g for g in self.found if g[1] > lo]
        sure = [s for s, e in self.sure if e > lo]
        mixes = [g for g in merge_intervals(found, gap=1) if any(g[0] <= s < g[1] for s in sure)]
        return merge_intervals(mixes + [w for w in self.wipes if w[1] > lo], gap=1)

    def result(self, thumbs: np.ndarray) -> list[tuple[int, int]]:
        """Scan what is left of ``thumbs`` (every frame of the source) and return the
        intervals, as ``find_gradual(thumbs, lengths, test)`` would."""
        self.scan(thumbs)
        self._settle(thumbs, final=True)
        mixes = [g for g in merge_intervals(self.found, gap=1) if any(g[0] <= s < g[1] for s, _ in self.sure)]
        return merge_intervals(mixes + self.wipes, gap=1)
