"""Short shots in fast-cut footage: when the few frames between two close boundaries are a shot.

Trailers, music videos and highlight reels cut every 3-6 frames (0.1-0.25 s). Two events
closer than ``flash_s`` were judged one event unless the frames between them were another
picture than the frames either side *even as a mix of the two*
(:func:`curate.split.flashes.is_insert`: :func:`curate.split.flashes.replaced` of both
jointly over 0.7). On 32x18 thumbnails that joint fit (a gain per reference and an
offset in each of 12 cells of about 48 pixels) explains half of almost any picture: three
shots of one room (two signers before one wall) or of one street came out 0.4-0.7, and
both cuts around a 3-6 frame shot became one, its frames left in the clip beside it.
Likewise a cut within ``snap`` frames of a dissolve or fade was taken for the detector
reacting to the transition's start or end and absorbed into it, though a short shot lay
between (:func:`curate.split.transitions.resolve_gaps`).

:func:`shot_between` keeps them apart where no frame between is a relit copy of either
side (:func:`curate.split.lights.relit_copy`), and then either is_insert's stricter test holds or each frame
between has detail of its own (not a dip to black or white) and is not explained by the
frames either side jointly (:data:`MIN_JOINT`: a two-frame mix or a detector firing twice
on one cut is), and each cut :func:`stands_out` of the change around it (a fast pan, or a
12.5 fps source shown at 25 whose every other frame moves, is no run of short shots).

The relit test is what the joint fit cannot do (it also overrules is_insert, which took
two frames under a flash of gain 3 at a cut for a shot): a flash or a lamp on one side of
a cut (the first frames of the new shot under a flash, the last of the old) scores as high
as another shot there (0.4-0.8 for gains of 1.6-3), but its change from that side goes
one way (light added or taken away, :data:`ONE_WAY` of it) and its fine structure (edges,
texture) stays, correlating by :data:`MIN_CORR` or more where neither picture clips;
another shot's correlates about 0 (90th percentile 0.5-0.6 between shots of one room,
whose change from one to the other goes both ways: the one-way test tells those). On
frames of the footage one to three frames apart, 97-99 % of copies under a gain of 0.5-3
(whole, or a ramp across the view) are relit copies, and no pair of other files' frames
is (``bench/montage_accuracy.py``). :mod:`curate.split.flashes` asks it of a flash's
frames brighter than the shot.

Not told apart (a break test): a TV in view or a graphic that changes 2-7 frames from a
real cut (its change covers much of the picture's detail, as a new shot of one room
does), and a crash zoom's blurred frames where they change little from frame to frame.

Thumbnails are ``(n, h, w, 3) uint8`` BGR (:func:`curate.split.transitions.thumbnail`),
frame indices 0-based in decode order. The relit test lives with the other light rules in
:mod:`curate.split.lights` (lamps switched inside one shot), as do the fine structure and
the one-way test it uses; the flash filter asks it too.
"""

from __future__ import annotations

import numpy as np

from curate.split.flashes import is_insert, replaced
from curate.split.lights import fine, luma_f32, relit_copy
from curate.split.spikes import jumps

MIN_JOINT = 0.3  # replaced() of a frame between, from the frames either side jointly, above this
MIN_DETAIL = 2.0  # levels: mean fine structure of each frame between, at least
STANDOUT, STEP_REACH = 3.0, 2  # a cut changes the picture this many times more than the frames this near


def stands_out(thumbs: np.ndarray, c: int, skip: tuple[int, ...] = ()) -> bool:
    """Whether the picture change into frame ``c`` of ``thumbs`` (``(n, h, w, 3) uint8``; the
    mean absolute change of :func:`curate.split.spikes.jumps`) is at least
    :data:`STANDOUT` times that into each frame within :data:`STEP_REACH` of it (frames in
    ``skip``, the other cuts judged with it, left out): a cut, not a step of the motion
    around it (a fast pan, footage of 12.5 fps shown at 25 whose every other frame moves).
    ``c`` must be a frame after the first (False otherwise)."""
    if not 1 <= c < len(thumbs):
        return False
    lo, hi = max(1, c - STEP_REACH), min(len(thumbs), c + STEP_REACH + 1)
    step = jumps(thumbs[lo - 1:hi])[1:]  # change into lo .. hi - 1
    around = [float(step[k - lo]) for k in range(lo, hi) if k != c and k not in skip]
    return not around or float(step[c - lo]) >= STANDOUT * max(around)


def shot_between(thumbs: np.ndarray, first: int, second: int, before: int | None = None,
                 after: int | None = None, cuts: tuple[int, ...] | None = None) -> bool:
    """Whether frames ``first .. second - 1`` of ``thumbs`` (``(n, h, w, 3) uint8``), between
    two boundaries a few frames apart (at least 2), are a shot of their own (module
    docstring), judged against frames ``before`` and ``after`` (default: ``first - 1`` and
    ``second``, the frames just outside; beside a dissolve, the clean frames outside it).
    ``cuts``: which of ``first`` and ``second`` are hard cuts (default: both; a gap's end
    is none). None of the frames between may be a relit copy of either (:func:`curate.split.lights.relit_copy`);
    then, with the default neighbours (two cuts), :func:`curate.split.flashes.is_insert` is
    enough, or else each frame between has detail and is not explained by the two jointly,
    and each of ``cuts`` :func:`stands_out` of the motion around it."""
    plain = before is None and after is None
    before = first - 1 if before is None else before
    after = second if after is None else after
    cuts = (first, second) if cuts is None else cuts
    if second - first < 2 or not 0 <= before < first or not second <= after < len(thumbs):
        return False
    x, y = thumbs[before], thumbs[after]
    between = thumbs[first:second]
    if any(relit_copy(x, f) or relit_copy(y, f) for f in between):
        return False
    if plain and is_insert(thumbs, first, second):
        return True
    return all(stands_out(thumbs, c, cuts) for c in cuts) and all(
        float(np.abs(fine(luma_f32(f))).mean()) >= MIN_DETAIL and replaced(x, f, y) > MIN_JOINT for f in between)
