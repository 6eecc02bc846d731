"""Covers, reveals and push slides: one shot drawn in over another, or off it, or pushing
it out, behind a straight seam that crosses the picture (FFmpeg's ``xfade`` ``cover*``,
``reveal*`` and ``slide*``, an editor's slide-in, slide-out or push).

One shot moves as a whole while the seam crosses (the incoming one in a cover, the
outgoing one in a reveal; both in a push), so no pixel makes the one large change a wipe
gives it (:mod:`curate.split.wipes` turns down a picture that slides as a whole, as a
camera's tilt does), no frame differs much from the one before (no hard cut), and no
pixel mixes the two shots (no dissolve): before this module, of 60 slides, covers and
reveals of 0.5-1.5 s between shots of the footage, 6 were found (all of them covers or
reveals, 6 of 40), and the other clips held both shots.

A seam track (:mod:`curate.split.seams`) is a gap, its frames in no clip, when all hold:

- the view it leaves does not come back soon after, and its two ends are not one view under
  other light (:func:`curate.split.wipes.comes_back`: a bus or a panel passing close to a
  fixed camera; :func:`curate.split.wipes.same_view`: a shadow's edge sweeping across);
- in at least :data:`HALF` of its steps the picture on one side of the seam moves with it
  and in at least as large a share the picture on the other side stays, or (a push) both
  move with it in at least that share (:func:`sides_move`); a flat part (a sky, a plain
  wall) is neither, as moving it changes nothing;
- the seam is a splice: on average over the track at least :data:`SPLICE` of the lines
  step at it (a door frame or a wall's edge against the sky rarely steps on all of them;
  two unrelated shots seldom step on all of them either, where both are alike along a
  stretch of the seam: at 0.93 half of the `xfade` slides between footage shots were
  missed, at 0.8 a few more pans past an edge are taken: ``docs/benchmarks.md``,
  "Splice strength");
- it takes :data:`MIN_S` or longer (a pole passing close to a train window crosses faster);
- the whole picture does not move at the seam's pace just before the seam comes in, nor
  just after it has left (:func:`pans`): a pan past an edge was under way before the edge
  showed, or goes on after it;
- for a push, the whole picture does not drift the seam's way there either, at a fifth of
  its pace or more (:func:`stands`): a camera easing into and out of a pan past an edge does.

A push slide moves both pictures with the seam, as a camera panning or tilting past a
straight edge does (a door frame, a building against the sky, a horizon): the last two
rules are what tell them apart, so a pan or tilt that starts as such an edge comes in at
one side of the frame and stops as it leaves at the other is taken for a push (a known
limit). A first version (a session before) took pushes whenever the seam was a strong
splice and gave 33 more of a break test's 190 single shots a false gap; under the rules
above as they stand, the same test has 3 more (``README.md``, "Push slides"). Measured on
xfade sets between shots of the footage and on that break test (``README.md``, "Covers and
reveals").
"""

from __future__ import annotations

import cv2
import numpy as np

from curate.split.seams import MIN_FRAMES, SeamProfiles, strength, tracks
from curate.split.wipes import comes_back, same_view

WITH = 0.6  # a part moves with the seam when moving it explains a step this well (of unmoved)
MIN_SHIFT = 0.75  # thumbnail pixels: a slower seam's sides are judged over as many frames as it takes
HALF = 0.5  # share of the track's steps in which a part moves with the seam (or stays)
SPLICE = 0.8  # mean strength of a transition's seam (share of the lines stepping at it)
MIN_S = 0.2  # seconds: a seam crossing the frame faster is a thin thing passing (a pole), no transition
AROUND = 3  # steps judged before a seam comes in and after it leaves
PACE = 0.5  # the picture moves at the seam's pace: its shift within this share of the seam's step
STILL = 0.2  # around a push the picture stays put: its drift the seam's way under this share of the seam's step
MIN_RESPONSE = 0.05  # a phase correlation peak this weak (black or flat frames) measures no shift


def _luma(thumb: np.ndarray, axis: int) -> np.ndarray:
    """Luma of an ``(h, w, 3) uint8`` BGR thumbnail as float32, transposed for rows (``axis`` 0)."""
    luma = cv2.cvtColor(thumb, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return luma if axis == 1 else np.ascontiguousarray(luma.T)


def _scale(thumbs: np.ndarray, side: int, axis: int) -> float:
    """Thumbnail pixels per seam-profile pixel along ``axis`` (1: columns, 0: rows)."""
    return thumbs.shape[2 if axis == 1 else 1] / side


def sides_move(thumbs: np.ndarray, track: tuple[int, int, float, float], side: int,
               axis: int) -> tuple[float, float, float, float]:
    """How the picture either side of a seam track moves: ``(ahead_with, ahead_still,
    behind_with, behind_still)``, the shares of the track's steps in which the part of the
    picture ahead of the seam (where it goes) or behind it moves with the seam, or stays.

    ``thumbs``: ``(n, h, w, 3) uint8`` thumbnails; ``track``: ``(first, last, start, end)``
    from :func:`curate.split.seams.tracks`, positions in pixels of an axis ``side`` long
    (``axis`` 1: columns, 0: rows). From each frame to the one a stride later (as many
    frames as the seam takes to move :data:`MIN_SHIFT` thumbnail pixels), a part moves with
    the seam when the earlier frame moved as far as the seam explains it (mean absolute luma
    difference) at most :data:`WITH` of what the unmoved one does, and stays when the
    unmoved one explains it at most :data:`WITH` of what the moved one does (a flat part
    does neither). A part is judged in the steps where it is 2 lines or more, and its
    shares are of those steps; one judged in under half of the steps (or under 2) has
    shares 0. Counted over every step, the steps where a part had shrunk to a line or two
    (the part ahead near the track's end, the part behind near its start) had read as
    not moving, most in vertical tracks over the 18 thumbnail rows (a 30-frame push down:
    the part behind moved with the seam in 0.5 of all steps, 0.78 of those judged)."""
    first, last, start, end = track
    scale = _scale(thumbs, side, axis)
    per_frame = (end - start) / max(last - first, 1) * scale
    stride = max(1, int(np.ceil(MIN_SHIFT / max(abs(per_frame), 1e-6))))  # frames a judged step spans
    step = per_frame * stride
    counts, judged, steps = np.zeros(4), np.zeros(2), 0
    margin = int(np.ceil(abs(step))) + 1  # lines the shift brings in from the border
    for t in range(first, max(last - stride + 1, first + 1)):
        p, q = _luma(thumbs[t], axis), _luma(thumbs[min(t + stride, last)], axis)
        h, w = p.shape
        moved = cv2.warpAffine(p, np.float32([[1, 0, step], [0, 1, 0]]), (w, h), borderMode=cv2.BORDER_REPLICATE)
        here = (start + (end - start) * (t - first) / max(last - first, 1)) * scale
        lo, hi = int(np.floor(min(here, here + step))) - 1, int(np.ceil(max(here, here + step))) + 1
        if step > 0:
            ahead, behind = slice(min(hi, w), w), slice(margin, max(lo, margin))
        else:
            ahead, behind = slice(0, max(lo, 0)), slice(min(hi, w - margin), w - margin)
        steps += 1
        for k, part in enumerate((ahead, behind)):
            if part.stop - part.start < 2:
                continue
            judged[k] += 1
            still = float(np.abs(q[:, part] - p[:, part]).mean())
            shifted = float(np.abs(q[:, part] - moved[:, part]).mean())
            counts[2 * k] += shifted <= WITH * still
            counts[2 * k + 1] += still <= WITH * shifted
    enough = judged >= max(2, steps / 2)
    return tuple(float(counts[i] / judged[i // 2]) if enough[i // 2] else 0.0 for i in range(4))


Around = tuple[list[tuple[float, float]], list[tuple[float, float]], float]
"""What :func:`shifts_around` measures: ``(before, after, step)``, the shifts with their
responses before the seam came in and after it left, and the seam's step."""


def shifts_around(thumbs: np.ndarray, track: tuple[int, int, float, float], side: int, axis: int) -> Around:
    """The whole picture's shifts along the seam's axis in the :data:`AROUND` steps (those
    inside the video) before the seam came in at its edge and after it left at the other,
    times extrapolated from its track, each with its peak's response (0..1), and the seam's
    own step. Shifts and step are in thumbnail pixels a frame, positive towards higher
    columns (rows), as the seam's step is; the step is 0, with no shifts, for a track that
    does not move. Shifts by phase correlation (Kuglin and Hines 1975, ``cv2.phaseCorrelate``)
    of the ``(n, h, w, 3) uint8`` thumbnails' luma, each frame converted once; ``track``,
    ``side``, ``axis`` as in :func:`sides_move`. No window: a Hann window over 32 x 18
    thumbnails leaves little but their middle; footage frames moved by one thumbnail pixel
    measured 0.05-0.93 with it (one the wrong way) and 0.56-1.1 without it (a flat road
    0.16), and in a helper's break test tilts of 0.9 rows a frame measured 0.1, so a pan or
    tilt already under way read as standing still."""
    first, last, start, end = track
    step = (end - start) / max(last - first, 1)
    if step == 0:
        return [], [], 0.0
    came = first - int(np.ceil((side - start if step < 0 else start) / abs(step)))
    left = last + int(np.ceil((end if step < 0 else side - end) / abs(step)))

    def shifts(pairs: range) -> list[tuple[float, float]]:
        frames = [i for i in range(pairs.start, pairs.stop + 1) if 0 <= i < len(thumbs)]
        luma = {i: _luma(thumbs[i], 1) for i in frames}
        found = [cv2.phaseCorrelate(luma[i], luma[i + 1]) for i in pairs if i in luma and i + 1 in luma]
        return [(shift[1 - axis], response) for shift, response in found]

    return (shifts(range(came - 1 - AROUND, came - 1)), shifts(range(left + 1, left + 1 + AROUND)),
            step * _scale(thumbs, side, axis))


def pans(around: Around) -> bool:
    """Whether the whole picture moves at the seam's pace (its shift within :data:`PACE` of
    the seam's step) in at least half of the steps before the seam came in, or after it
    left (``around``: :func:`shifts_around` of the track): a camera panning or tilting
    past a straight edge."""
    before, after, want = around

    def moving(shifts: list[tuple[float, float]]) -> bool:
        votes = [np.sign(x) == np.sign(want) and abs(x - want) <= PACE * abs(want) for x, _ in shifts]
        return bool(votes) and float(np.mean(votes)) >= 0.5

    return moving(before) or moving(after)


def stands(around: Around) -> bool:
    """Whether the whole picture stays put along the seam's way before the seam came in and
    after it left (``around``: :func:`shifts_around` of the track): the median of its
    shifts in the seam's direction under :data:`STILL` of the seam's step on each side. Shifts whose peak responds under
    :data:`MIN_RESPONSE` (black or flat frames, whose phase correlation peaks anywhere) are
    left out; a side without any counts as still, but not both (a pan past an edge that
    fills the video, or a track with no frames around it to judge). A push slide's shots
    stay put; a camera easing into and out of a pan past an edge drifts the edge's way,
    slower than the edge but not that slowly. Large things moving the seam's way across a
    plain picture pull the shift too, so a push between such shots can be missed."""
    before, after, want = around
    sides = [[x for x, response in shifts if response >= MIN_RESPONSE] for shifts in (before, after)]
    return any(sides) and all(not shifts or float(np.median(shifts)) / want < STILL for shifts in sides)


def slide_gaps(profiles: SeamProfiles | None, thumbs: np.ndarray, lo: int, max_len: int,
               fps: float = 25.0) -> list[tuple[int, int]]:
    """Gaps ``(start, end)`` (half-open frame indices into ``thumbs``) of the covers,
    reveals and push slides (module docstring) among frames ``[lo, lo + len(thumbs))``
    of ``profiles`` (None: no gaps), each at least :data:`MIN_S` seconds at ``fps`` and at
    most ``max_len`` frames (and a missed seam's look-ahead, 2 frames); ``thumbs``: the
    shot detector's ``(n, h, 32, 3) uint8`` thumbnails of those frames. Sorted.
    ``axis`` here and in :func:`sides_move` and :func:`shifts_around` is 1 for columns
    and 0 for rows (the image axis a column seam moves along)."""
    if profiles is None or profiles.sides is None or len(thumbs) < MIN_FRAMES + 2:
        return []
    min_len = max(MIN_FRAMES, int(round(MIN_S * fps)))
    gaps = []
    for axis, positions, shares, side in ((1, profiles.cols, profiles.col_shares, profiles.sides[0]),
                                          (0, profiles.rows, profiles.row_shares, profiles.sides[1])):
        cache = profiles.cache.setdefault((axis, max_len, min_len), {})
        for track in tracks(positions, side, max_len, min_len, begin=lo, cache=cache):
            if track[1] >= lo + len(thumbs):
                continue
            first, last = track[0] - lo, track[1] - lo  # into thumbs
            if any(s <= first and last < e for s, e in gaps):
                continue  # judged already, as a part of a longer track
            a, b = max(first - 1, 0), min(last + 1, len(thumbs) - 1)
            if comes_back(thumbs, a, b, max_len) or same_view(thumbs[a], thumbs[b]):
                continue
            here = (first, last, track[2], track[3])
            ahead_with, ahead_still, behind_with, behind_still = sides_move(thumbs, here, side, axis)
            one_way = min(ahead_with, behind_still) >= HALF or min(ahead_still, behind_with) >= HALF
            push = min(ahead_with, behind_with) >= HALF  # both pictures move with the seam
            if not (one_way or push) or strength(positions, shares, *track) < SPLICE:
                continue
            around = shifts_around(thumbs, here, side, axis)  # once, for both rules
            if not pans(around) and (one_way or stands(around)):
                gaps.append((first, last + 1))
    return sorted(gaps)
