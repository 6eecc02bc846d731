"""Reframed copies: a portrait or square crop of a landscape clip (or a widescreen crop of a
4:3 one), kept at its own aspect.

A repost cut from 16:9 to 9:16 or 1:1 keeps a third to a half of the picture's width and
all of its height. Signature thumbnails are squeezed to ``size x size`` whatever the
aspect (:mod:`curate.dedup.signature`), so the copy's are stretched 1.8-3.2x across
against the original's: neither its gist nor the crop search of
:mod:`curate.dedup.verify` (one scale for both axes, at most ~30 % of each side cut) can
meet it. Here a clip whose picture is at most :data:`RATIO` as wide (for its height) as
another's is compared with windows of that other clip's thumbnails at its own aspect:

1. candidates: narrower clips are grouped by aspect (5 % steps); for each group, every
   wider clip's mean thumbnail is cut into :data:`POSITIONS` windows of the group's aspect
   from left to right, each window stretched back to a square and turned into a gist
   (:func:`curate.dedup.signature.gist_of_mean`); gists of the group's clips and of the
   windows are paired by cosine in buckets (:func:`curate.dedup.clusters.bucket_pairs`),
   and each (narrower, wider) pair keeps its best window, each narrower clip its
   :data:`PER_COPY` most alike wider ones (so verification grows with the clips, not
   their pairs);
2. verification: the narrower clip's mean thumbnail, squeezed to the window's width, is
   located in the wider clip's by normalised cross-correlation at every pixel offset
   (:func:`placements`); the wider clip's thumbnails are cut there (and at the second best
   offset when the best came within twice the limit), stretched to squares, and compared
   with the narrower clip's by :func:`curate.dedup.verify.distance` (which still searches
   a further crop, time offset and speed); the narrower clip's thumbnails are first
   squeezed to the window's width and back, so both carry the same horizontal detail.

A window sees less of the scene than the whole picture, and less of it sharply (a 9:16
window of a 16:9 clip's 48-pixel thumbnails is 15 pixels across), so clips that differ in
a small moving part meet more easily in it: on ``bench/dedup_pairs.py`` a 9:16 window of
an empty stretch of the indoor camera matched other times of that camera (0.001-0.03),
and in a break test 9:16 crops of the ASL signs ``yes`` and ``no`` (one signer, one room)
came to 0.041-0.046 from the other sign at the edit rule's motion weight. So a reframe
needs the copy to move (:data:`MIN_ACTIVITY`; a still is left to the filter stage's
``min_motion``), weighs motion :data:`MOTION_WEIGHT` and must come within
:data:`LIMIT_SHARE` of the edit distance (0.048 by default): the signs' own crops then
pair at 0.002-0.019, the other sign at 0.069 or more.

The same search finds a copy cut along one side only: 8-15 % of its width gone (a shifted
copy whose black strip is then cut off, by the uploader or by the signature's pads,
:mod:`curate.dedup.pads`) is a full-height window of 0.85-0.92 of its original's width,
which the crop search (one scale for both axes) does not meet.

A copy cut to a wider aspect (16:9 from 4:3, 2.39:1 from 16:9: top and bottom cut) is a
full-width window of its source: the same search on both clips' thumbnails transposed
(rows for columns, the aspect inverted) finds it.
"""

from __future__ import annotations

import math
from collections import defaultdict

import cv2
import numpy as np

from curate.cvthreads import one_blas_thread, one_cv_thread
from curate.dedup.clusters import bucket_pairs
from curate.dedup.groups import Joined
from curate.dedup.signature import GIST_LEN, Signature, aspect_of, decode, gist_of_mean, read_gist
from curate.dedup.verify import distance

RATIO = 0.93  # a narrower clip's aspect at most this share of the wider's: a reframe is looked for
#              (0.8 before: a copy with 8-15 % of one side cut, a shifted copy whose black strip
#              is cut off, was no reframe and, its aspect changed, no crop either: 9/24 and 7/23
#              of bench/dedup_pairs.py's crop_side copies found, 23/24 and 20/23 at 0.93, no false pair)
LIMIT_SHARE = 0.8  # a reframe's distance at most this share of the edit distance
MIN_ACTIVITY = 1.5  # luma levels: a copy moving less (a still, an empty stretch of a fixed view) is left alone
MOTION_WEIGHT = 0.4  # the motion term's weight (the edit rule's 0.15): a window is too few pixels across
#                      to tell two signs of one signer apart by appearance (module docstring)
POSITIONS = 9  # windows across the wider picture, left edge to right edge
GROUP = 1.05  # narrower clips are grouped by aspect in steps of this factor
PER_COPY = 20  # sources kept per copy (most alike gists): verification stays linear in the clips


def _width(t: int, frac: float) -> int:
    """Pixels of a window ``frac`` (0..1) of a ``t``-pixel side: 2 to ``t``."""
    return max(2, min(t, round(t * frac)))


def window(thumbs: np.ndarray, frac: float, pos: float) -> np.ndarray:
    """``(..., T, T)`` thumbnails (or one mean) cut to the window ``frac`` of their width
    (0..1) at ``pos`` (0: left edge, 1: right edge) and stretched back to ``T x T``
    (bilinear), in their dtype."""
    t = thumbs.shape[-1]
    ww = _width(t, frac)
    x0 = round((t - ww) * min(max(pos, 0.0), 1.0))
    cut = thumbs[..., x0:x0 + ww]
    if cut.ndim == 2:
        return cv2.resize(cut, (t, t), interpolation=cv2.INTER_LINEAR)
    return np.stack([cv2.resize(c, (t, t), interpolation=cv2.INTER_LINEAR) for c in cut])


def placements(narrow: Signature, wide: Signature, frac: float, best: int = 2) -> list[float]:
    """Window positions (0..1, as :func:`window` takes them) where the narrower clip's mean
    thumbnail, squeezed to ``frac`` of the width, best matches the wider clip's (normalised
    cross-correlation at every whole-pixel offset, OpenCV's ``TM_CCOEFF_NORMED``): the
    ``best`` highest, best first."""
    t = wide.thumbs.shape[-1]
    ww = _width(t, frac)
    if ww >= t:
        return [0.0]
    templ = cv2.resize(narrow.thumbs.astype(np.float32).mean(axis=0), (ww, t), interpolation=cv2.INTER_AREA)
    score = cv2.matchTemplate(wide.thumbs.astype(np.float32).mean(axis=0), templ, cv2.TM_CCOEFF_NORMED).ravel()
    return [float(x) / (t - ww) for x in np.argsort(-score, kind="stable")[:best]]


def activity(sig: Signature) -> float:
    """Mean absolute difference of ``sig``'s thumbnails from their mean thumbnail (luma
    levels): under :data:`MIN_ACTIVITY` nothing moves (a still, an empty room)."""
    t = sig.thumbs.astype(np.float32)
    return float(np.abs(t - t.mean(axis=0)).mean())


def squeezed(sig: Signature, frac: float) -> Signature:
    """``sig`` with each thumbnail squeezed to ``frac`` of its width and stretched back: the
    horizontal detail a window of that width of a wider clip's thumbnails has."""
    t = sig.thumbs.shape[-1]
    ww = _width(t, frac)
    out = np.stack([cv2.resize(cv2.resize(f, (ww, t), interpolation=cv2.INTER_AREA), (t, t),
                               interpolation=cv2.INTER_LINEAR) for f in sig.thumbs])
    return Signature(out, sig.step_s, sig.aspect)


Candidate = tuple[float, int, int, float, float, bool]


def candidates(signatures: list[str], min_cos: float, between: int | None = None) -> list[Candidate]:
    """``(-cosine, copy, source, window fraction, window position, across)`` of clips whose
    record signatures (empty or without an aspect: left out) may be a reframe of one
    another, most alike first (module docstring, step 1): ``across`` False, the copy is
    a full-height window of the source (a narrower picture); True, a full-width one (a
    wider picture: 16:9 cut from 4:3), found as the same search on the transposed
    thumbnails. ``between``: only pairs of one clip before this position and one from it
    on (new clips against an earlier run's), before each copy keeps its
    :data:`PER_COPY`. Raises ValueError for a malformed signature."""
    out: list[Candidate] = []
    for across in (False, True):
        out += [c + (across,) for c in _oriented_candidates(signatures, min_cos, across, between)]
    return sorted(out)


def _t(x: np.ndarray, across: bool) -> np.ndarray:
    """``x`` (``(..., T, T)``) transposed in its last two axes when ``across``."""
    return np.swapaxes(x, -1, -2) if across else x


def _oriented_candidates(signatures: list[str], min_cos: float, across: bool, between: int | None
                         ) -> list[tuple[float, int, int, float, float]]:
    """:func:`candidates` of one orientation (``across``: on transposed thumbnails, whose
    aspect is the inverse and whose gist is the gist transposed)."""
    aspects: dict[int, float] = {}
    for k, text in enumerate(signatures):
        a = aspect_of(text) if text else None
        if a is not None:
            aspects[k] = 1.0 / a if across else a
    if len(aspects) < 2 or min(aspects.values()) > RATIO * max(aspects.values()):
        return []
    groups: dict[int, list[int]] = defaultdict(list)
    for k, a in aspects.items():
        groups[round(math.log(a) / math.log(GROUP))].append(k)
    means: dict[int, np.ndarray] = {}
    best: dict[tuple[int, int], tuple[float, float, float]] = {}
    for members in groups.values():
        a_n = float(np.median([aspects[k] for k in members]))
        wide = [k for k, a in aspects.items() if a_n <= RATIO * a]
        if not wide:
            continue
        side = round(math.sqrt(GIST_LEN))
        gists = [_t(read_gist(signatures[k])[1].reshape(side, side), across).ravel() for k in members]
        keys: list[tuple[int, float, float]] = [(k, 0.0, -1.0) for k in members]
        for w in wide:
            if w not in means:
                means[w] = _t(decode(signatures[w]).thumbs.astype(np.float32).mean(axis=0), across)
            frac = a_n / aspects[w]
            for p in range(POSITIONS):
                pos = p / (POSITIONS - 1)
                gists.append(gist_of_mean(window(means[w], frac, pos)))
                keys.append((w, frac, pos))
        i, j, cos = bucket_pairs(np.stack(gists), min_cos)
        for a, b, c in zip(i.tolist(), j.tolist(), cos.tolist()):
            (n, _, pn), (w, frac, pos) = keys[a], keys[b]
            if pn >= 0 or pos < 0 or n == w:  # a narrower clip (pos -1) and a window, a < b
                continue
            if between is not None and (n < between) == (w < between):
                continue
            if c > best.get((n, w), (-2.0,))[0]:
                best[(n, w)] = (c, frac, pos)
    per_copy: dict[int, list[tuple[float, int, int, float, float]]] = defaultdict(list)
    for (n, w), (c, frac, pos) in best.items():
        per_copy[n].append((-c, n, w, frac, pos))
    return sorted(x for found in per_copy.values() for x in sorted(found)[:PER_COPY])


def reframe_distance(narrow: Signature, wide: Signature, frac: float, limit: float,
                     motion_weight: float = MOTION_WEIGHT, across: bool = False) -> float | None:
    """Distance of ``narrow`` to the window ``frac`` of ``wide``'s width where it fits best
    (module docstring, step 2; exact when at most ``limit``, else a bound over it); None
    when the two cannot be compared (other thumbnail sizes) or ``narrow`` does not move
    (:func:`activity` under :data:`MIN_ACTIVITY`). ``across``: of its height (``narrow``
    is then the wider picture, a full-width window of ``wide``)."""
    if narrow.thumbs.shape[1:] != wide.thumbs.shape[1:] or activity(narrow) < MIN_ACTIVITY:
        return None
    if across:
        narrow = Signature(_t(narrow.thumbs, True), narrow.step_s)
        wide = Signature(_t(wide.thumbs, True), wide.step_s)
    squeezed_narrow = squeezed(narrow, frac)
    best = None
    for p in placements(narrow, wide, frac):  # the runner-up only when the best came near
        if best is not None and best > 2 * limit:
            break
        d = distance(squeezed_narrow, Signature(window(wide.thumbs, frac, p), wide.step_s), motion_weight,
                     limit=limit, crops_only=True)
        best = d if best is None else min(best, d)
    return best


def reframe_pairs(signatures: list[str], max_distance: float, min_cos: float = 0.5,
                  motion_weight: float = MOTION_WEIGHT, joined: tuple[np.ndarray, np.ndarray] | None = None,
                  stats: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j, distance)`` (``i < j``, arrays) of clips, by position in
    ``signatures`` (record strings; empty = none), one of which is a reframe of the other
    (module docstring), at signature distance at most :data:`LIMIT_SHARE` of
    ``max_distance``, the narrower clip moving (:func:`activity` at least
    :data:`MIN_ACTIVITY`). ``joined``: pairs
    the caller has joined already; candidates inside one group are not verified.
    ``stats`` receives ``candidates`` and ``verified``. Raises ValueError for a malformed
    signature."""
    cand = candidates(signatures, min_cos)
    limit = LIMIT_SHARE * max_distance
    union = Joined(len(signatures), *joined) if joined is not None else None
    sigs: dict[int, Signature] = {}
    found, verified = [], 0
    with one_cv_thread(), one_blas_thread():
        for _, n, w, frac, _pos, across in cand:
            if union is not None and union.together(n, w):
                continue
            for k in (n, w):
                if k not in sigs:
                    sigs[k] = decode(signatures[k])
            d = reframe_distance(sigs[n], sigs[w], frac, limit, motion_weight, across)
            if d is None:
                continue
            verified += 1
            if d <= limit:
                found.append((min(n, w), max(n, w), d))
                if union is not None:
                    union.join(n, w)
    if stats is not None:
        stats.update(candidates=len(cand), verified=verified)
    if not found:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0, np.float32)
    i, j, d = (np.array(v) for v in zip(*sorted(found)))
    return i.astype(np.int64), j.astype(np.int64), d.astype(np.float32)
