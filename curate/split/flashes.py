"""Flash suppression: hard cuts that are really a brief brightness excursion inside one shot.

A photographer's flash, lightning, a muzzle flash or one or two dropped (black) frames
make every content detector fire, often twice (into and out of the flash).
PySceneDetect 0.7's ``FlashFilter`` (``scenedetect/detector.py``) only enforces a
minimum scene length: in ``SUPPRESS`` mode it keeps the first of two close cuts, in
``MERGE`` mode it moves it, so a flash inside one shot still gives a boundary. Here a
cut is dropped when the picture *comes back*: the cut at ``c`` is a flash when some
frame ``p < c`` and some frame ``r >= c`` at most ``max_len + 1`` frames apart look alike
(mean absolute thumbnail difference under ``ratio`` times the jump at the cut) while
every frame between them differs from ``p`` mostly in brightness (the mean-luma change is
at least half of the mean absolute change), and ``p`` and ``r`` are one picture as the shot's
own pace goes (:func:`same_picture`). A brief insert of *other* content is not a
brightness excursion, so its cuts are kept: even a darker one, whose change is mostly
of mean brightness, is another picture (:func:`replaced`), and a brighter one no relit
copy of the shot (:func:`curate.split.lights.relit_copy`). Nor is a black or white frame between two
shots: the jump into it is so large that two different pictures around it passed the
ratio alone (a street and a hand-held shot 38 levels apart, the jump to black 114), and
the cut between them was lost. Thumbnails come from
:func:`curate.split.transitions.thumbnail`; frame indices are 0-based, in decode order.
"""

from __future__ import annotations

import cv2
import numpy as np

from curate.split.lights import relit_copy
from curate.split.mixfit import tone_residual
from curate.split.transitions import thumb_luma


def _dist(x: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute difference of two ``(h, w, 3) uint8`` thumbnails (0-255 levels)."""
    return float(np.abs(x.astype(np.float32) - y.astype(np.float32)).mean())


def _brightness_led(thumbs: np.ndarray, p: int, r: int) -> bool:
    """True when every frame strictly between ``p`` and ``r`` differs from frame ``p`` mostly by
    a shift of mean brightness, and each one darker than ``p`` shows ``p``'s picture under
    other light (:func:`replaced`), each brighter one is a relit copy of it
    (:func:`curate.split.lights.relit_copy`: the change one way and the fine structure
    kept, or a picture blown out almost everywhere, which leaves too little to match: a
    break test's white-out during a swing had become a cut when a brighter frame had to
    match too). Before, a brighter frame was not judged, and a few frames of a brighter
    shot cut into another and back (an intercut A B A) passed as a flash."""
    ref = thumbs[p].astype(np.float32)
    for j in range(p + 1, r):
        d = thumbs[j].astype(np.float32) - ref
        if abs(float(d.mean())) < 0.5 * float(np.abs(d).mean()):
            return False
    level = float(thumbs[p].mean())
    return all(replaced(thumbs[p], thumbs[j]) <= MAX_REPLACED if float(thumbs[j].mean()) < level
               else relit_copy(thumbs[p], thumbs[j]) for j in range(p + 1, r))


CELLS, FLAT_CELL, MAX_REPLACED = (3, 4), 2.0, 0.7  # grid rows x columns; luma std; share
CLIPPED = (4.0, 250.0)  # luma at or beyond these is clipped: out of a cell's fit


def replaced(x: np.ndarray, y: np.ndarray, *more: np.ndarray) -> float:
    """How much of ``(h, w, 3) uint8`` thumbnail ``y`` is another picture than ``x`` (and
    ``more``): over a :data:`CELLS` grid, the rms residual of ``y``'s luma predicted from
    ``x``'s (and ``more``'s, jointly: a mix of two pictures is no other picture) by gains
    and an offset fitted in each cell, over ``y``'s own luma std there, averaged over the
    cells. ``y``'s clipped pixels (:data:`CLIPPED`) are out of the fits, and cells where
    ``y`` is flat (std under :data:`FLAT_CELL`) or mostly clipped are left out: a part a
    light has blown out or blacked out fits any light (0 when every cell is). Each of ``x``
    and ``more`` is first shifted onto ``y`` (:func:`_onto`): a camera swinging 6 px a frame
    under a flash had moved the picture enough to read as another one (a break test). About
    0.15-0.4 under a flash, lightning, a strobe or a lamp that lights a third of the view
    (the light differs from cell to cell), 0.9-1 for frames of other footage: 2-6 frames of
    another shot inserted into one shot, darker than it, had passed as a flash and both
    cuts were lost (a break test: 10 of 10)."""
    ly = y.astype(np.float32).mean(axis=2)
    lumas = [f.astype(np.float32).mean(axis=2) for f in (x, *more)]
    shifted = [_onto(f, ly) for f in lumas]
    edge = max(e for _, e in shifted)
    h, w = ly.shape
    if min(h, w) - 2 * edge < 2 * max(CELLS):  # too little left inside: judge the frames as they are
        shifted, edge = [(f, 0) for f in lumas], 0
    ly = ly[edge:h - edge, edge:w - edge]
    ls = [f[edge:h - edge, edge:w - edge] for f, _ in shifted]
    h, w = ly.shape
    ratios = []
    for i in range(CELLS[0]):
        for k in range(CELLS[1]):
            cell = (slice(i * h // CELLS[0], (i + 1) * h // CELLS[0]), slice(k * w // CELLS[1], (k + 1) * w // CELLS[1]))
            b = ly[cell].ravel()
            kept = (b > CLIPPED[0]) & (b < CLIPPED[1])  # pixels a light blew out (or blacked out) fit no gain
            if kept.sum() < max(4, 0.25 * b.size):
                continue
            b = b[kept]
            spread = float(b.std())
            if spread < FLAT_CELL:
                continue
            design = np.stack([f[cell].ravel()[kept] for f in ls] + [np.ones_like(b)], axis=1)
            coef, *_ = np.linalg.lstsq(design, b, rcond=None)
            ratios.append(float(np.sqrt(np.mean((design @ coef - b) ** 2))) / spread)
    return float(np.mean(ratios)) if ratios else 0.0


def _onto(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int]:
    """``(h, w) float32`` luma ``x`` shifted onto ``y`` by the translation phase correlation
    finds (none past :data:`MAX_SHIFT` of a side), and the border in pixels that the shift
    leaves without ``x``'s own picture."""
    h, w = x.shape
    if min(h, w) < 8:
        return x, 0
    (dx, dy), _ = cv2.phaseCorrelate(y, x)
    if abs(dx) > MAX_SHIFT * w or abs(dy) > MAX_SHIFT * h or max(abs(dx), abs(dy)) < 0.25:
        return x, 0
    m = np.float32([[1, 0, -dx], [0, 1, -dy]])
    return (cv2.warpAffine(x, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
            int(np.ceil(max(abs(dx), abs(dy)))))


def is_insert(thumbs: np.ndarray, first: int, second: int) -> bool:
    """Whether frames ``first .. second - 1`` of ``(n, h, w, 3) uint8`` thumbnails, between
    two cuts a few frames apart (at least 2), are an insert of other footage: each is
    another picture than the frames just before and just after them, even as a mix of the
    two (:func:`replaced` of both jointly over :data:`MAX_REPLACED`). Such cuts are two
    boundaries, not one event: a 2-6 frame insert had been merged into one cut and its
    frames were left in a clip (a break test). A two-frame transition, a detector firing
    twice on one cut, or a flash (the picture under other light) is none."""
    if second - first < 2 or first < 1 or second >= len(thumbs):
        return False
    before, after = thumbs[first - 1], thumbs[second]
    return all(replaced(before, thumbs[j], after) > MAX_REPLACED for j in range(first, second))


SAME_FLOOR, SAME_STEPS, PACE_STEPS = 6.0, 3.0, 4  # levels; times the pace per frame apart; steps each side


def _relit_dist(x: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute difference of ``(h, w, 3) uint8`` thumbnails once ``y`` is predicted from
    ``x`` by a gain and offset per channel (:func:`curate.split.mixfit.tone_residual`): what
    an exposure change leaves."""
    return float(np.abs(tone_residual(x, y)).mean())


ZOOMS, MAX_SHIFT = (1.0, 0.92, 1.08), 0.15  # scales tried; largest shift, share of each side


def _moved_dist(x: np.ndarray, y: np.ndarray) -> float:
    """The least :func:`_dist` of ``(h, w, 3) uint8`` thumbnails over the inner part once ``y``
    is scaled by one of :data:`ZOOMS` about the centre and shifted by the translation phase
    correlation finds (at most :data:`MAX_SHIFT` of each side): a camera that jolts or zooms
    while a flash hides it. Raw and after a gain and offset per channel (:func:`_relit_dist`)."""
    h, w = x.shape[:2]
    best = float("inf")
    if min(h, w) < 8:  # a strip (a 1000x20 source's thumbnail is 32x1): nothing to align
        return best
    gx = thumb_luma(x[None])[0].reshape(h, w)
    for zoom in ZOOMS:
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), 0.0, zoom)
        ys = cv2.warpAffine(y, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        (dx, dy), _ = cv2.phaseCorrelate(gx, thumb_luma(ys[None])[0].reshape(h, w))
        if abs(dx) > MAX_SHIFT * w or abs(dy) > MAX_SHIFT * h:
            continue
        m[:, 2] -= (dx, dy)
        ys = cv2.warpAffine(y, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        edge = int(np.ceil(max(abs(dx), abs(dy)) + abs(zoom - 1.0) * max(h, w) / 2)) + 1
        if min(h, w) - 2 * edge < 4:
            continue
        inner = (slice(edge, h - edge), slice(edge, w - edge))
        best = min(best, _dist(x[inner], ys[inner]), _relit_dist(x[inner], ys[inner]))
    return best


def same_picture(thumbs: np.ndarray, p: int, r: int) -> bool:
    """Whether frames ``p < r`` of ``(n, h, w, 3) uint8`` thumbnails show one picture: as they
    are or after a gain and offset per channel (a flash's exposure settling), they differ by
    at most :data:`SAME_FLOOR` levels or :data:`SAME_STEPS` times ``r - p`` times the shot's
    pace (the mean change between neighbouring frames over :data:`PACE_STEPS` steps before
    ``p`` and after ``r``; a mean, as a source of half the stream's rate repeats every
    other frame), also once the camera's jolt or zoom under the flash is undone
    (:func:`_moved_dist`). True where no such step exists (nothing to judge by)."""
    steps = [_dist(thumbs[j], thumbs[j + 1]) for j in range(max(p - PACE_STEPS, 0), p)]
    steps += [_dist(thumbs[j], thumbs[j + 1]) for j in range(r, min(r + PACE_STEPS, len(thumbs) - 1))]
    if not steps:
        return True
    limit = max(SAME_FLOOR, SAME_STEPS * (r - p) * float(np.mean(steps)))
    if min(_dist(thumbs[p], thumbs[r]), _relit_dist(thumbs[p], thumbs[r])) <= limit:
        return True
    return _moved_dist(thumbs[p], thumbs[r]) <= limit


def is_flash(thumbs: np.ndarray, cut: int, max_len: int, ratio: float = 0.4) -> bool:
    """Whether the cut at frame ``cut`` (first frame of the would-be new shot) is a flash of at
    most ``max_len`` frames inside one shot. ``thumbs``: ``(n, h, w, 3) uint8``."""
    n = len(thumbs)
    if cut <= 0 or cut >= n:
        return False
    jump = _dist(thumbs[cut - 1], thumbs[cut])
    if jump <= 0:
        return False
    for p in range(cut - 1, max(cut - 2 - max_len, -1), -1):
        for r in range(max(cut, p + 2), min(p + max_len + 2, n)):
            if (_dist(thumbs[p], thumbs[r]) < ratio * jump and _brightness_led(thumbs, p, r)
                    and same_picture(thumbs, p, r)):
                return True
    return False


def drop_flashes(cuts: list[int], thumbs: np.ndarray, max_len: int, ratio: float = 0.4) -> list[int]:
    """``cuts`` without those :func:`is_flash` explains; ``max_len`` in frames (0 keeps all)."""
    if max_len <= 0:
        return list(cuts)
    return [c for c in cuts if not is_flash(thumbs, c, max_len, ratio)]


def is_excursion(thumbs: np.ndarray, start: int, end: int, ratio: float = 0.4, min_std: float = 4.0) -> bool:
    """Whether the frames ``[start, end)`` are a brightness excursion inside one shot (an
    exposure dip or rise, a light switched off and on) rather than a transition: the frames
    just before and after look alike (mean absolute difference under ``ratio`` times the
    largest difference of a frame inside from the one before), the frame-to-frame changes
    from before to after are mostly changes of mean brightness (summed over the frames; the
    picture may move meanwhile), and no frame inside is blank (thumbnail luma std
    above ``min_std``, 0-255; a fade through black or white reaches a flat frame).
    ``thumbs``: ``(n, h, w, 3) uint8``; frame indices 0-based."""
    p, r = start - 1, end
    if p < 0 or r >= len(thumbs) or end <= start:
        return False
    luma = thumb_luma(thumbs[start:end])
    if float(luma.std(axis=1).min()) <= min_std:
        return False
    peak = max(_dist(thumbs[p], thumbs[j]) for j in range(start, end))
    if _dist(thumbs[p], thumbs[r]) >= ratio * peak:
        return False
    steps = np.diff(thumbs[p:r + 1].astype(np.float32), axis=0).reshape(r - p, -1)
    return float(np.abs(steps.mean(axis=1)).sum()) >= 0.5 * float(np.abs(steps).mean(axis=1).sum())


DIP_LEN, DIP_DEPTH, DIP_REACH = 6, 0.4, 12  # frames, share of the brightest mean around, frames


def reaches_black(thumbs: np.ndarray, cut: int, threshold: float, means: np.ndarray | None = None) -> bool:
    """Whether the fade cut at frame ``cut`` (``ThresholdDetector``'s: the middle of a run of
    frames whose mean is under ``threshold``, 0-255, or the end of such a run at the start of
    the video) passes through black: some frame of the run has a thumbnail mean of at most
    ``threshold / 2`` or a luma median of at most ``threshold / 4`` (black but for a title or
    a logo), or the run is a short plunge (at most :data:`DIP_LEN` frames, its darkest mean
    at most :data:`DIP_DEPTH` of the brightest within :data:`DIP_REACH` frames each side: a
    dip to black of 2-3 frames a leg between dim shots, whose frames, sampled mid-fade, never
    reach black). A dark shot whose mean only wavers about the threshold (night, a dim room:
    the picture is all there) does none of these, and its crossings are no boundary. A cut
    with no such run beside it (it cannot be judged) is kept. ``thumbs``: ``(n, h, w, 3)
    uint8``; ``means``: their ``(n,)`` means when the caller has them (one pass for all
    the cuts it judges)."""
    n = len(thumbs)
    if means is None:
        means = thumbs.reshape(n, -1).mean(axis=1)
    slack = threshold + 0.5  # thumbnails average the frame's pixels: their mean is the frame's, rounded
    start = next((i for i in (cut, cut - 1) if 0 <= i < n and means[i] < slack), None)
    if start is None:
        return True
    lo = hi = start  # the detector's run: frames under the level (not joined over 12-12.5 to a black nearby)
    while lo > 0 and means[lo - 1] < threshold:
        lo -= 1
    while hi + 1 < n and means[hi + 1] < threshold:
        hi += 1
    low = float(means[lo:hi + 1].min())
    if low <= threshold / 2:
        return True
    around = np.concatenate([means[max(0, lo - DIP_REACH):lo], means[hi + 1:hi + 1 + DIP_REACH]])
    if hi - lo < DIP_LEN and around.size and low <= DIP_DEPTH * float(around.max()):
        return True  # a short plunge from the pictures around: an editor's dip, sampled mid-frame
    return float(np.median(thumb_luma(thumbs[lo:hi + 1]), axis=1).min()) <= threshold / 4
