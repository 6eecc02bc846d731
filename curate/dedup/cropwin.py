"""Off-centre crops: candidates from the gists of windows of each clip's mean thumbnail.

A copy cut to 70-80 % of each side, away from the centre (a corner or one edge kept),
shows a part of its original that the original's gist (:func:`curate.dedup.signature.gist`,
its whole mean thumbnail at 8x8) hardly sees: in a break test, 20 % and 25 % corner crops
of a street camera and an ASL signer had gist cosines of 0.42 and 0.16 with their
originals, under ``crop_gist_cos`` (0.5), so they were never verified, though
:func:`curate.dedup.verify.distance` takes them at 0.013 and 0.051 (its crop search covers
any position). Here each clip's mean thumbnail is cut into :data:`WINDOWS` (squares of 80 %
and 70 % of its side, at the corners, the edge middles and the centre), each window
turned into a gist (:func:`curate.dedup.signature.gist_of_mean`: 0.94 and 1.00 with those
copies' gists). Clips' own gists are searched against the window gists of the others
(:func:`curate.dedup.clusters.bucket_blocks`) at :data:`WINDOW_COS` or more; a
pair whose own gists already meet at ``skip_cos`` is left out (the caller verifies it
anyway), each (copy, original) pair keeps its best window and each copy its
:data:`PER_COPY` most alike originals, so verification grows with the clips, not their
pairs. With ``mirror``, each clip's gist mirrored left-right is searched too (a crop of a
flipped copy). The pairs are verified as crops only (:mod:`curate.dedup.edits`,
:mod:`curate.dedup.against_edits`). On ``bench/dedup_pairs.py``'s ``crop_corner`` copies
(15-30 % of each side cut, kept at a corner or an edge's middle) 18/24 and 18/23 are
found, 10/24 and 9/23 without windows, with no false pair.

Cost: each clip's thumbnails are decoded once for its mean (the gist alone is read
without them) and the search holds 18 window gists a clip: 4.0 s for 10,000 signatures
(the labelled set's 194 clips repeated with noise, so every clip has 50 look-alikes),
where the gist candidate search itself took 22.6 s.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

import cv2
import numpy as np

from curate.dedup.clusters import bucket_blocks
from curate.dedup.signature import decode, read_gist
from curate.dedup.views import MIRROR, PLAIN, view_gists

WINDOWS = tuple((f, py, px) for f in (0.8, 0.7) for py in (0.0, 0.5, 1.0) for px in (0.0, 0.5, 1.0))
"""``(side fraction, vertical position, horizontal position)`` of each window: positions 0
(top or left edge) to 1 (bottom or right edge)."""
WINDOW_COS = 0.8  # cosine of a clip's gist and a window gist of another clip for a candidate
PER_COPY = 10  # originals kept per copy (most alike windows)
GIST_SIDE = 8  # a gist is 8 x 8 (:func:`curate.dedup.signature.gist_of_mean`)


@lru_cache(maxsize=16)
def _area(n: int) -> np.ndarray:
    """``(8, n) float32`` weights of OpenCV's ``INTER_AREA`` from ``n`` pixels to 8 along one
    axis (separable: a square's resize is ``A @ X @ A.T``)."""
    return cv2.resize(np.eye(n, dtype=np.float32), (n, GIST_SIDE), interpolation=cv2.INTER_AREA)


def window_gists(mean: np.ndarray) -> np.ndarray:
    """``(len(WINDOWS), 64) float32`` gists of the windows of a ``(T, T) float32`` mean
    thumbnail (:data:`WINDOWS`; each a square of ``round(T * fraction)`` pixels), each
    :func:`curate.dedup.signature.gist_of_mean` of its window (its area resize done as one
    matrix product for the windows of one size)."""
    t = mean.shape[0]
    out = []
    for frac in dict.fromkeys(f for f, _, _ in WINDOWS):
        w = max(2, round(t * frac))
        m = w // 10
        cuts = np.stack([mean[round((t - w) * py) + m:round((t - w) * py) + w - m,
                              round((t - w) * px) + m:round((t - w) * px) + w - m]
                         for f, py, px in WINDOWS if f == frac]).astype(np.float32)
        a = _area(w - 2 * m)
        small = (a @ cuts @ a.T).reshape(len(cuts), -1)
        small -= small.mean(axis=1, keepdims=True)
        out.append(small / (np.linalg.norm(small, axis=1, keepdims=True) + 1e-3))
    return np.concatenate(out).astype(np.float32)


def _best(copy: np.ndarray, orig: np.ndarray, cos: np.ndarray, view: np.ndarray, k: int):
    """Of ``(copy, original, cosine, view)`` pairs, each pair's highest cosine (and its view)
    and then each copy's ``k`` highest, as arrays."""
    order = np.lexsort((-cos, orig, copy))
    copy, orig, cos, view = copy[order], orig[order], cos[order], view[order]
    first = np.r_[True, (copy[1:] != copy[:-1]) | (orig[1:] != orig[:-1])]
    copy, orig, cos, view = copy[first], orig[first], cos[first], view[first]
    order = np.lexsort((-cos, copy))
    copy, orig, cos, view = copy[order], orig[order], cos[order], view[order]
    start = np.r_[0, np.flatnonzero(copy[1:] != copy[:-1]) + 1]
    rank = np.arange(len(copy)) - np.repeat(start, np.diff(np.r_[start, len(copy)]))
    keep = rank < k
    return copy[keep], orig[keep], cos[keep], view[keep]


def crop_candidates(signatures: list[str], between: int | None = None, min_cos: float = WINDOW_COS,
                    known: dict[int, np.ndarray] | None = None, skip_cos: float | None = None,
                    mirror: bool = False) -> list[tuple[float, int, int, int]]:
    """``(-cosine, copy, original, view)`` of clips (positions in ``signatures``, record
    strings; empty = none) where the copy's gist meets a window of the original's mean
    thumbnail at cosine ``min_cos`` or more (module docstring), most alike first; ``view``
    (:mod:`curate.dedup.views`) is ``MIRROR`` where it met it mirrored left-right (with
    ``mirror``: a crop of a flipped copy), else ``PLAIN``; each copy keeps its
    :data:`PER_COPY` best originals. ``between``: only pairs of one clip before this
    position and one from it on (new clips against an earlier run's batch). ``known``:
    window gists by position, read and filled for the positions before ``between`` (the
    new clips, met again by every batch of an earlier run). ``skip_cos``: pairs whose own
    gists (the copy's in its view) have at least this cosine are left out. Clips are
    paired only with clips of the same thumbnail size. Raises ValueError for a malformed
    signature."""
    by_size: dict[int, list[int]] = defaultdict(list)
    gists: dict[int, np.ndarray] = {}
    for k, text in enumerate(signatures):
        if text:
            size, gists[k] = read_gist(text)
            by_size[size].append(k)
    out: list[tuple[float, int, int, int]] = []
    for members in by_size.values():
        if len(members) < 2:
            continue
        wins = []
        for k in members:
            w = known.get(k) if known is not None else None
            if w is None:
                w = window_gists(decode(signatures[k]).thumbs.astype(np.float32).mean(axis=0))
                if known is not None and between is not None and k < between:
                    known[k] = w
            wins.append(w)
        pos = np.array(members, np.int64)
        full = np.stack([gists[k] for k in members]).astype(np.float32)
        views = [PLAIN, MIRROR] if mirror else [PLAIN]
        queries = np.concatenate([view_gists(full, v) for v in views])
        parts = []
        for rows, cols, sim in bucket_blocks(queries, np.concatenate(wins)):
            # windows of one clip are neighbours in ``cols``: each clip's best window
            owners = cols // len(WINDOWS)
            starts = np.r_[0, np.flatnonzero(np.diff(owners)) + 1]
            best = np.maximum.reduceat(sim, starts, axis=1)
            copy, orig = pos[rows % len(pos)][:, None], pos[owners[starts]][None, :]
            keep = (best >= min_cos) & (copy != orig)
            if between is not None:
                keep &= (copy < between) != (orig < between)
            if skip_cos is not None:
                keep &= queries[rows] @ full[owners[starts]].T < skip_cos
            best = np.where(keep, best, -np.inf)
            if best.shape[1] > PER_COPY:  # each copy's most alike originals in this bucket
                top = np.argpartition(-best, PER_COPY - 1, axis=1)[:, :PER_COPY]
                best = np.take_along_axis(best, top, axis=1)
            else:
                top = np.broadcast_to(np.arange(best.shape[1]), best.shape)
            a, k = np.nonzero(np.isfinite(best))
            if len(a):
                view = np.array(views, np.int64)[rows[a] // len(pos)]
                parts.append((pos[rows[a] % len(pos)], pos[owners[starts]][top[a, k]], best[a, k], view))
        if parts:
            copy, orig, cos, view = _best(*(np.concatenate(p) for p in zip(*parts)), PER_COPY)
            out += [(-float(c), int(a), int(b), int(v)) for a, b, c, v in zip(copy, orig, cos, view)]
    return sorted(out)
