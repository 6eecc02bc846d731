"""Near-duplicate pairs that survive edits: gist buckets, then signature verification.

Candidates come from :func:`curate.dedup.clusters.bucket_pairs` over each clip's gist
(:func:`curate.dedup.signature.gist`, the border-cropped mean thumbnail at 8x8) with
cosine >= ``min_cos`` (linear in the number of clips for a fixed bucket size); each
candidate is then checked with :func:`curate.dedup.verify.distance` (crop, scale,
photometric and time search), kept when at most ``max_distance``. With ``workers > 1``
and parallel calls installed (:mod:`curate.parallel`), candidates are cut into parts by blocks of clips, one call each (:func:`parts_of`).

With ``mirror`` on, each clip's gist mirrored left-right is searched too, and a candidate
found that way is verified against the other clip mirrored (:mod:`curate.dedup.views`):
a horizontally flipped copy (a common re-upload edit) is then a pair like any other edit.
With ``turns`` on, so are its gists turned a quarter, a half and three quarters (from
``min_cos``, not the crop-only ``crop_cos``): a copy turned 90 or 180 degrees.

A crop of a fifth or more of each side moves the gist: the gists of such a copy and its
original can be under ``min_cos`` (0.22-0.66 on the labelled sets). With ``crop_cos`` set,
pairs between it and ``min_cos`` are verified too, after all others, with the geometry
search limited to crops (``crops_only`` of :func:`curate.dedup.verify.distance`: scale 1
and 1.1-1.43, no turn, about a third of the cost; scale 1 for copies under a bar of a
quarter of the height, whose gists fall as far). On the tuning split of
``bench/dedup_pairs.py`` (``crop_cos`` 0.5) that found 3 more 15-30 % crops and no false
pair, for 23 % more verification time (37 % on the footage run).

A crop of that size kept at a corner or an edge moves the gist further still (0.16-0.42
in a break test): with ``crop_windows``, pairs where one clip's gist meets a window of
the other's mean thumbnail (:mod:`curate.dedup.cropwin`) are verified as crops only,
after all other candidates.

A copy under a news bar, ticker or subtitle strip has a gist far from its original's
(the strip fills a quarter of it); pairs whose top or bottom six gist rows agree are
candidates too (:func:`_band_pairs`), verified as crops, then for every edit.

When the caller passes the pairs it already joined (``joined``: the pHash near-pairs),
candidates are verified in decreasing gist cosine and a candidate whose clips are
already in one group (:class:`curate.dedup.groups.Joined`) is skipped: its verdict could
not change the groups, which are connected components. A montage that repeats its shots
verified 1629 candidates for 114 clips before, a few dozen now.
"""

from __future__ import annotations

import numpy as np

from curate import parallel
from curate.cvthreads import one_blas_thread, one_cv_thread
from curate.dedup.clusters import bucket_pairs
from curate.dedup.cropwin import crop_candidates
from curate.dedup.groups import Joined
from curate.dedup.signature import Signature, decode, read_gist
from curate.dedup.verify import MeanShapes, distance
from curate.dedup.views import MIRROR, PLAIN, TURNS, inverse, view_gists, view_sig

CHUNK = 2000  # most candidate pairs per parallel call
MIN_PART = 32  # fewest candidate pairs per parallel call when spreading over workers


Candidate = tuple[int, int, int, bool | None]  # (i, j, view j is compared in, crops only; None: crops, then all)


def _verify(texts: dict[int, str], pairs: list[Candidate], max_distance: float,
            motion_weight: float, joined: Joined | None = None,
            checked: list[int] | None = None) -> list[tuple[int, int, float]]:
    """Verified pairs among ``pairs`` (positions into ``texts``, the signature strings, and
    whether the second clip is compared mirrored); each signature is decoded once. With
    ``joined``, pairs already in one group are skipped and each verified pair joins its
    group. ``checked[0]`` counts the pairs measured."""
    sigs: dict[int, Signature] = {}
    shapes = MeanShapes()  # each clip's scaled means, reused by its other candidates
    out = []
    # 48-pixel thumbnails: OpenCV's and OpenBLAS's thread pools cost more than they save
    with one_cv_thread(), one_blas_thread():
        for i, j, flip, crops in pairs:
            if joined is not None and joined.together(i, j):
                continue
            for k in (i, j):
                if k not in sigs:
                    sigs[k] = decode(texts[k])
            if checked is not None:
                checked[0] += 1
            other = view_sig(sigs[j], flip)
            d = distance(sigs[i], other, motion_weight, limit=max_distance, crops_only=crops is not False,
                         shapes=(shapes, (i, False), (j, flip)))  # exact when <= the limit
            if crops is None and d > max_distance:  # a band candidate: every edit too
                d = distance(sigs[i], other, motion_weight, limit=max_distance, shapes=(shapes, (i, False), (j, flip)))
            if d <= max_distance:
                out.append((i, j, d))
                if joined is not None:
                    joined.join(i, j)
    return out


def mirror_gists(gists: np.ndarray) -> np.ndarray:
    """``(N, S*S)`` gists of the same clips mirrored left-right (each gist is an S x S image)."""
    return view_gists(gists, MIRROR)


def gists_by_size(signatures: list[str], on_error=None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``{thumbnail size: (positions (N,) int64, gists (N, 64) float32)}`` of the non-empty
    record signature strings (:func:`curate.dedup.signature.read_gist`: no thumbnail is
    decoded, but for the older form without a gist). Raises ValueError for a malformed
    signature; with ``on_error``, calls ``on_error(position, error)`` and leaves it out."""
    by_size: dict[int, tuple[list[int], list[np.ndarray]]] = {}
    for k, text in enumerate(signatures):
        if text:
            try:
                size, g = read_gist(text)
            except ValueError as exc:
                if on_error is None:
                    raise
                on_error(k, exc)
                continue
            rows, gists = by_size.setdefault(size, ([], []))
            rows.append(k)
            gists.append(g)
    return {s: (np.array(r, np.int64), np.stack(g)) for s, (r, g) in by_size.items()}


def _candidates(gists: np.ndarray, rows: list[int], min_cos: float, mirror: bool,
                turns: bool = False, turn_cos: float = 1.0) -> list[tuple[float, int, int, int]]:
    """``(-cosine, i, j, view)`` of gist pairs with cosine >= ``min_cos`` (``i < j``,
    positions ``rows``; view :data:`curate.dedup.views.PLAIN`); with ``mirror``, also pairs of
    a gist and another clip's mirrored gist (view ``MIRROR``: ``j`` is compared mirrored);
    with ``turns``, pairs of a gist and another clip's gist turned a quarter, a half or
    three quarters at cosine ``turn_cos`` or more (``j`` is compared turned so)."""
    n = len(gists)
    views = [PLAIN] + ([MIRROR] if mirror else []) + (list(TURNS) if turns else [])
    both = np.concatenate([view_gists(gists, v) for v in views])
    i, j, cos = bucket_pairs(both, min_cos)
    out = []
    for a, b, c in zip(i.tolist(), j.tolist(), cos.tolist()):
        if a >= n:  # two seen in views: the pair of their views' difference, found plain-first too
            continue
        view = views[b // n]
        b = b % n
        if b == a or (view in TURNS and c < turn_cos):
            continue
        if view != PLAIN and b < a:  # ``view(b)`` against ``a`` is ``b`` against ``inverse(view)(a)``
            a, b, view = b, a, inverse(view)
        out.append((-c, rows[a], rows[b], view))
    return out


BAND_ROWS = 6  # of the gist's 8 rows, those a band candidate compares: the top or the bottom 6
BAND_COS = 0.8  # cosine of two clips' band gists for a band candidate


def band_gists(gists: np.ndarray, top: bool) -> np.ndarray:
    """``(N, BAND_ROWS * 8)`` unit vectors, mean removed, of the top (or bottom)
    :data:`BAND_ROWS` rows of each ``(N, 64)`` gist (an 8 x 8 image, row by row)."""
    n, d = gists.shape
    side = int(round(d ** 0.5))
    rows = slice(0, BAND_ROWS) if top else slice(side - BAND_ROWS, side)
    g = gists.reshape(n, side, side)[:, rows].reshape(n, -1).astype(np.float32)
    g -= g.mean(axis=1, keepdims=True)
    return g / (np.linalg.norm(g, axis=1, keepdims=True) + 1e-3)


def _band_pairs(gists: np.ndarray, rows: list[int]) -> dict[tuple[int, int], float]:
    """``{(i, j): cosine}`` of the pairs whose top or bottom band gists (:func:`band_gists`)
    have cosine >= :data:`BAND_COS` (the top band's cosine where both do). A news bar,
    ticker or subtitle strip over the lower quarter of one clip (or a channel strip along
    its top) moves its whole gist: on the labelled sets such copies had gist cosines of
    -0.43 to 0.22 with their originals, never candidates, though verification
    (:mod:`curate.dedup.overlay`) takes them at 0.001-0.03; the rows clear of the strip
    still agree. :func:`edit_pairs` verifies them as crops first (scale 1 is one: a bar
    over an unmoved picture), then for every edit (:data:`Candidate`'s None): the wider
    search can settle on a scale the bar pulls it to (a synthetic copy: 0.070 apart,
    0.002 as a crop)."""
    out: dict[tuple[int, int], float] = {}
    for top in (True, False):
        i, j, cos = bucket_pairs(band_gists(gists, top), BAND_COS)
        for a, b, c in zip(i.tolist(), j.tolist(), cos.tolist()):
            out.setdefault((rows[a], rows[b]), c)
    return out


def edit_pairs(signatures: list[str], max_distance: float, min_cos: float = 0.5,
               motion_weight: float = 0.15, workers: int = 1, stats: dict | None = None,
               joined: tuple[np.ndarray, np.ndarray] | None = None, mirror: bool = False,
               crop_cos: float | None = None, crop_windows: bool = False, turns: bool = False):
    """Pairs ``(i, j, distance)`` (``i < j``, arrays) of clips whose record signatures
    (strings of :func:`curate.dedup.signature.encode`; empty = none, never paired) are
    edited copies of each other. ``joined``: ``(i, j)`` arrays of pairs of positions the
    caller has joined already; then only pairs that join two groups are reported (module
    docstring). ``mirror``: left-right flipped copies are pairs too; ``turns``: copies
    turned a quarter or a half (:mod:`curate.dedup.views`). ``crop_cos``: pairs
    whose gist cosine is under ``min_cos`` but at least this are verified too, as crops
    only (module docstring). ``crop_windows``: pairs where one clip's gist meets a window
    of the other's (:mod:`curate.dedup.cropwin`: off-centre crops) are verified too, as
    crops only, last. ``stats`` receives ``candidates`` (pairs found by the gist
    buckets and windows) and ``verified`` (pairs checked).
    Memory: one gist (64 floats, read from the string's head) per clip; thumbnails are
    decoded only for candidates. Raises ValueError for a malformed signature."""
    scored: list[tuple[float, int, int, bool]] = []
    low = min(min_cos, crop_cos) if crop_cos is not None else min_cos
    band: set[tuple[int, int]] = set()
    for rows, gists in gists_by_size(signatures).values():
        found = _candidates(gists, rows.tolist(), low, mirror, turns, min_cos)
        full = {(a, b) for c, a, b, f in found if -c >= min_cos and not f}  # verified for every edit anyway
        extra = {k: c for k, c in _band_pairs(gists, rows.tolist()).items() if k not in full}
        band |= extra.keys()
        scored += [x for x in found if x[3] or (x[1], x[2]) not in band]
        scored += [(-c, a, b, False) for (a, b), c in extra.items()]
    # most alike first: groups form early (and crop-only candidates come last)
    cand = [(a, b, flip, None if (a, b) in band and not flip else -c < min_cos) for c, a, b, flip in sorted(scored)]
    if crop_windows:  # after every other candidate: pairs no gist or band met
        seen = {(a, b, flip) for a, b, flip, _ in cand}
        for _, copy, orig, view in crop_candidates(signatures, skip_cos=low, mirror=mirror):
            key = (min(copy, orig), max(copy, orig), view)  # a mirror view is the same either way round
            if key not in seen:
                seen.add(key)
                cand.append((*key, True))
    union = Joined(len(signatures), *joined) if joined is not None else None
    if stats is not None:
        stats["candidates"] = len(cand)
    found, verified = _run(signatures, cand, max_distance, motion_weight, workers, union, joined)
    if stats is not None:
        stats["verified"] = verified
    if not found:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0, np.float32)
    best: dict[tuple[int, int], float] = {}
    for a, b, d in found:  # a pair verified plain and mirrored: its smaller distance
        best[(a, b)] = min(d, best.get((a, b), d))
    i, j, d = (np.array(v) for v in zip(*sorted((a, b, d) for (a, b), d in best.items())))
    return i.astype(np.int64), j.astype(np.int64), d.astype(np.float32)


def parts_of(cand: list, workers: int) -> list[list]:
    """``cand`` split into parts for parallel calls (or for calls one after another): about
    as many parts as round-robin dealing made (one per :data:`CHUNK` candidates, up to
    ``workers`` while each keeps :data:`MIN_PART`: a task costs a few tens of ms to
    start; a little fewer where a block fills its parts unevenly), but cut by
    blocks of clips, not dealt round-robin. The clips are split into ``g`` groups by
    position and each part holds the candidates between two groups, so a part touches at
    most ``2/g`` of the clips: each call prepares every clip it touches once (decoded
    signature, upsampled thumbnails, the FFT of its placements: about 4 ms a clip,
    :class:`curate.dedup.verify.MeanShapes`), and round-robin parts had each touched
    nearly every clip (300 one-second windows of one fixed camera, 68 K candidates in 34
    parts: 146 CPU-s against 95 in one part). A block larger than a round-robin part
    would be is dealt round-robin into parts of that size, so the work still spreads.
    Each part keeps the order of ``cand`` (most alike first), so its own union-find skips
    as early; parts come largest first (they are taken as workers free up). Calls one
    after another share a union-find, but most-alike-first then holds within each part
    only: a few more pairs may be verified, the groups are the same."""
    if not cand:
        return []
    n = max(1, min(workers, len(cand) // MIN_PART), -(-len(cand) // CHUNK))
    if n == 1:
        return [cand]
    clips = sorted({k for c in cand for k in c[:2]})
    g = 1
    while g * (g + 1) // 2 < n:
        g += 1
    g = min(g, len(clips))
    group = {k: r * g // len(clips) for r, k in enumerate(clips)}
    blocks: dict[tuple[int, int], list] = {}
    for c in cand:
        ga, gb = group[c[0]], group[c[1]]
        blocks.setdefault((min(ga, gb), max(ga, gb)), []).append(c)
    size = -(-len(cand) // n)  # a round-robin part's size
    parts = []
    for key in sorted(blocks):
        block = blocks[key]
        k = -(-len(block) // size)
        parts += [block[s::k] for s in range(k)]
    return sorted(parts, key=len, reverse=True)  # stable: equal sizes keep the block order


def _verify_shared(joined: tuple[np.ndarray, np.ndarray] | None, max_distance: float, motion_weight: float,
                   n: int, texts: dict[int, str], part: list[Candidate]) -> tuple[list, int]:
    """One parallel call (:mod:`curate.parallel`; the arguments every part shares first):
    :func:`_verify` over ``part`` with its own union-find over ``n`` clips seeded with the
    caller's ``joined`` pairs. Returns ``(found, pairs verified)``."""
    union = Joined(n, *joined) if joined is not None else None
    checked = [0]
    return _verify(texts, part, max_distance, motion_weight, union, checked), checked[0]


def _run(signatures, cand, max_distance, motion_weight, workers, union: Joined | None = None,
         joined: tuple[np.ndarray, np.ndarray] | None = None):
    """Verify ``cand`` here (skipping pairs ``union`` already holds together, and joining
    verified ones), or, when ``workers > 1``, the runner installed parallel calls
    (:mod:`curate.parallel`) and :func:`parts_of` makes several parts, in one call per part (each sent only the signatures its pairs use,
    each skipping with its own union-find seeded with ``joined``; pairs joined before are
    left out first). The groups are the same either way: a skipped pair was already
    connected. Returns ``(found, number of pairs verified)``."""
    if union is not None and workers > 1:
        cand = [c for c in cand if not union.together(c[0], c[1])]
    texts = lambda part: {k: signatures[k] for a, b, *_ in part for k in (a, b)}  # noqa: E731
    parts = parts_of(cand, max(1, workers))
    if len(parts) > 1 and parallel.available():
        done = parallel.run_calls(_verify_shared, [(texts(p), p) for p in parts],
                                  shared=(joined, max_distance, motion_weight, len(signatures)))
        return [f for found, _ in done for f in found], sum(k for _, k in done)
    checked = [0]  # here: part by part, so decoded signatures are held for one part at a time
    found = [p for part in parts for p in _verify(texts(part), part, max_distance, motion_weight, union, checked)]
    return found, checked[0]
