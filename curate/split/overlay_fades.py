"""Graphic overlays that fade in or out over one shot: a title, a lower third, a news bar
dissolving onto the picture and off it again.

A graphic faded in over a few frames mixes part of the picture gradually, and the
dissolve and fade scan (:mod:`curate.split.gradual`) takes the fade for a transition: a
gap, so the shot is split in three and the frames of both fades are dropped (on 16
videos of the footage with 64 graphics of 8 kinds faded in and out over 6-15 frames, 64
false boundaries).

Here each gap is an end of a would-be overlay whose change runs from the last frame
before it to the first frame after it, and a cut one whose change runs from the frame
before it to its own: a pair of neighbouring ends, one of them a gap at least, is judged
as :func:`curate.split.overlays.shown_between` judges a pair of cuts (local changes on
one region that holds still while it shows, the shot moving around it and coming back
when it goes), and both are dropped when it holds. Pairs of cuts were judged already
(:func:`curate.split.overlays.drop_overlays`). A dissolve between two shots changes the
whole picture; one between two times of one fixed camera brings in what moves and does
not bring the first picture back.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from curate.split.overlays import lazy_picture, shown_between


def drop_faded_overlays(cuts: list[int], gaps: list[tuple[int, int]], thumbs: np.ndarray,
                        live: Callable[[], np.ndarray] | None = None) -> tuple[list[int], list[tuple[int, int]]]:
    """``cuts`` (frame indices into ``thumbs`` ``(n, h, w, 3) uint8``) and ``gaps``
    (half-open frame intervals of gradual transitions) without each neighbouring pair
    (at least one a gap) that is an overlay fading in or out (module docstring); each
    cut or gap belongs to one pair at most. Returns the cuts and gaps left. ``live``: as
    for :func:`curate.split.overlays.drop_overlays` (the picture, measured only where a
    pair is judged: the previews of :mod:`curate.speculate` call this every few seconds of
    video)."""
    if not gaps or len(cuts) + len(gaps) < 2:
        return cuts, gaps
    events = sorted([(c - 1, c, None) for c in cuts] + [(s - 1, e, (s, e)) for s, e in gaps], key=lambda x: x[:2])
    skip = frozenset(cuts) | frozenset(i for s, e in gaps for i in range(s, e + 1))
    live, keep, i = live or lazy_picture(thumbs), [], 0
    while i < len(events):
        if (i + 1 < len(events) and (events[i][2] or events[i + 1][2])
                and shown_between(thumbs, events[i][:2], events[i + 1][:2], live(), skip)):
            i += 2
            continue
        keep.append(events[i])
        i += 1
    return ([q for p, q, gap in keep if gap is None], [gap for p, q, gap in keep if gap is not None])
