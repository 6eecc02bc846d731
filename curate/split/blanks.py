"""Blank holds: runs of flat frames (a fade's black or white hold, a colour card) that go to
no clip, told from dim, plain shots that must keep theirs; and cuts between such shots.

A frame is flat when its 32-px thumbnail's luma std is at most ``max_std`` (the split
stage's ``blank_std``, 2.0 of 0-255). That alone also took dim, plain pictures for holds:
a street at a seventh of daylight (frame mean 15-16, above the filter's ``min_luma``) has a
thumbnail std of 1.5, and its clip was cut down to a third, or lost; fog, a plain sky or a
fine texture that averages out on the thumbnail were whole sources rejected ``no_shots``.
What a hold lacks is a picture that persists: its thumbnail's pattern around its mean is
only noise, different in every frame, where a dim scene's is the same pattern from one
frame to the next. So a flat frame is blank (:class:`FlatFrames`) when

- its std is at most :data:`HARD_STD` (an encoded black, white or colour card is flatter);
- or its mean is at most :data:`BLACK_MEAN` (black, but for grain or a faint logo);
- or its pattern does not persist: its correlation with the nearest frame on either side
  that is not a repeat of it (mean absolute difference over :data:`REPEAT`, within
  :data:`REACH` frames; a low-rate source doubled to the stream's rate repeats its grain)
  is under :data:`PERSIST`. A side whose frames within reach all repeat it holds a still
  picture (x264 leaves a low-contrast scene all but frozen on the thumbnail).

A still card that is not quite flat (a vignette, a faint gradient, no text) persists too and
is then a picture of its own, as any still picture is, which the filter stage drops
(``min_motion``, ``min_sharpness``); where the fade out of it is missed, it shares the next
shot's clip. Taking a frozen flat run that touches a fade's leg into the fade's gap instead
was tried: encoded low-contrast shots are as frozen on the thumbnail as such a card (median
step 0.007-0.024 levels against 0.14 before encoding), so every fog or dim shot faded in
from black was lost again.

Cuts between two such pictures change too little for the content detector (its frame score
stays under ``min_content_val``, and no thumbnail pixel moves by the 16 levels the split
stage asks of a cut): five fogged shots at one level, cut together, were one clip.
:meth:`FlatFrames.cuts` finds them instead: two plain pictures that persist, one step apart,
whose patterns do not correlate (under :data:`CUT_CORR`).
"""

from __future__ import annotations

import numpy as np

from curate.split.transitions import thumb_luma

HARD_STD = 0.5  # thumbnail luma std (0-255) under which a flat frame is blank whatever it shows
BLACK_MEAN = 8.0  # thumbnail mean (0-255) under which a flat frame is black (grain, a faint logo)
PERSIST = 0.5  # correlation with a neighbour's pattern from which a flat frame shows a picture
REPEAT = 0.3  # mean absolute thumbnail difference (0-255) under which a frame repeats another
REACH = 4  # frames looked through on each side for one that is no repeat
CUT_CORR = 0.2  # correlation of two plain pictures' patterns under which a step between them is a cut
CUT_STD = 2.0  # times ``max_std``: pictures up to this thumbnail std count for cuts


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` runs of True in a ``(n,) bool`` mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2])]


class FlatFrames:
    """Flat, blank and persisting frames of ``(n, h, w, 3) uint8`` BGR thumbnails, measured
    once (module docstring). ``max_std``: the flat level (0-255); ``luma``: their
    :func:`curate.split.transitions.thumb_luma` where the caller has it. Attributes, all ``(n,)``:
    ``std`` and ``mean`` (float32), ``flat``, ``plain`` (std at most :data:`CUT_STD` times
    ``max_std``), ``persists`` and ``blank`` (bool); ``step``, ``(n - 1,) float64``: the
    correlation of each two neighbouring frames' patterns."""

    def __init__(self, thumbs: np.ndarray, max_std: float, luma: np.ndarray | None = None):
        luma = thumb_luma(thumbs) if luma is None else luma
        n = len(luma)
        self.std, self.mean = luma.std(axis=1), luma.mean(axis=1)
        self.flat = self.std <= max_std
        self.plain = self.std <= CUT_STD * max_std
        self.persists = np.ones(n, bool)
        self.step = np.ones(max(n - 1, 0))  # correlation of frames i and i + 1
        near = np.convolve(self.plain, np.ones(2 * REACH + 1), mode="same") > 0 if n > 1 else self.plain[:0]
        for s, e in _runs(near):  # only around plain frames: a long lit source keeps no second copy
            if e - s > 1:
                self.persists[s:e], self.step[s:e - 1] = self._measure(luma[s:e])
        sure = self.flat & ((self.std <= HARD_STD) | (self.mean <= BLACK_MEAN))
        self.blank = sure | (self.flat & ~self.persists)

    @staticmethod
    def _measure(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(persists, step)`` of a run of ``(n, p) float32`` luma frames (``n >= 2``): for
        each frame the correlation with its nearest non-repeat on each side (none within
        reach: a still picture), and each two neighbours' correlation."""
        n = len(luma)
        dev = luma - luma.mean(axis=1, keepdims=True)
        norm = np.sqrt((dev * dev).sum(axis=1, dtype=np.float64))
        side = {d: np.full(n, np.nan) for d in (-1, 1)}  # correlation with the nearest non-repeat
        step = np.ones(n - 1)
        for k in range(1, min(REACH, n - 1) + 1):
            diff = np.abs(luma[k:] - luma[:-k]).mean(axis=1)  # frames i and i + k
            corr = (dev[k:] * dev[:-k]).sum(axis=1, dtype=np.float64) / np.maximum(norm[k:] * norm[:-k], 1e-6)
            if k == 1:
                step = corr
            new = diff > REPEAT
            right, left = side[1][:-k], side[-1][k:]  # views: frame i looking to i + k, frame i + k to i
            take = np.isnan(right) & new
            right[take] = corr[take]
            take = np.isnan(left) & new
            left[take] = corr[take]
        idx, reach = np.arange(n), min(REACH, n - 1)
        # a side still: every frame within reach repeats this one (none is no repeat)
        still = (np.isnan(side[1]) & (idx + reach <= n - 1)) | (np.isnan(side[-1]) & (idx >= reach))
        return still | (np.nan_to_num(np.fmax(side[1], side[-1]), nan=-1.0) >= PERSIST), step

    def holds(self, min_len: int) -> list[tuple[int, int]]:
        """Blank holds: runs of at least ``min_len`` blank frames, as half-open frame intervals."""
        return [(s, e) for s, e in _runs(self.blank) if e - s >= min_len]

    def cuts(self) -> list[int]:
        """Cuts between plain pictures: frames ``c`` where frames ``c - 1`` and ``c`` are plain,
        not blank and persist, and their step correlates under :data:`CUT_CORR`. Sorted."""
        if len(self.step) == 0:
            return []
        picture = self.plain & self.persists & ~self.blank
        c = np.arange(1, len(self.std))
        return [int(x) for x in c[picture[c - 1] & picture[c] & (self.step < CUT_CORR)]]


def find_blank(thumbs: np.ndarray, max_std: float, min_len: int) -> list[tuple[int, int]]:
    """:meth:`FlatFrames.holds` of ``(n, h, w, 3) uint8`` BGR thumbnails (``[]`` for none)."""
    return FlatFrames(thumbs, max_std).holds(min_len) if len(thumbs) else []


def flat_cuts(thumbs: np.ndarray, max_std: float) -> list[int]:
    """:meth:`FlatFrames.cuts` of ``(n, h, w, 3) uint8`` BGR thumbnails."""
    return FlatFrames(thumbs, max_std).cuts() if len(thumbs) else []
