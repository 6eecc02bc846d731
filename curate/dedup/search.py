"""Near-duplicate pairs by multi-index hashing: band candidates, then an exact check.

For each band (:func:`curate.dedup.codes.band_edges`) the codes are bucketed by their
band key with a numpy sort (``argsort`` + run boundaries, or ``searchsorted`` against
an earlier index); every pair sharing a bucket is a candidate and is checked exactly
with ``np.bitwise_count`` on 64-bit words, pruning pairs already over the distance
after every few words. Since ``m > d`` bands cover the code, every pair within distance
``d`` shares a bucket in some band: the result equals exhaustive search (it is exact,
not approximate). Work is ``O(N log N)`` per band plus the candidates, which for
unrelated codes number about ``N^2 m / 2^(w+1)`` (``w`` the band width: ~20 bits for
1024-bit hashes at ``d = 51``); near-identical footage in bulk raises it.

Bands are independent: with ``workers > 1`` and parallel calls installed
(:mod:`curate.parallel`: Ray tasks, the codes sent once to the object store, or a local
run's sandbox children) they are searched in parallel, otherwise in this process, one band
at a time (memory: the codes, one band's keys and ``budget`` candidate pairs).
"""

from __future__ import annotations

import numpy as np

from curate import parallel
from curate.dedup.codes import band_edges, band_keys, words_t

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]
BUDGET = 1 << 19  # candidate pairs checked at once (~16 MB of indices)


def _expand(first: np.ndarray, counts: np.ndarray, budget: int):
    """Yield ``(rows, targets)`` chunks of about ``budget`` pairs: row ``r`` with every
    target in ``first[r] .. first[r] + counts[r] - 1``."""
    rows = np.flatnonzero(counts)
    if len(rows) == 0:
        return
    first, counts = first[rows], counts[rows]
    cum = np.cumsum(counts)
    cuts = np.searchsorted(cum, np.arange(budget, cum[-1], budget), side="right")
    cuts = np.unique(np.r_[0, cuts, len(cum)])
    for a, b in zip(cuts[:-1], cuts[1:]):
        cnt = counts[a:b]
        owner = np.repeat(np.arange(a, b), cnt)
        offset = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        yield rows[owner], first[owner] + offset


def _within(wq: np.ndarray, wb: np.ndarray, i: np.ndarray, j: np.ndarray, max_dist: int) -> Pairs:
    """Pairs ``(i, j)`` (rows of query words ``wq``, base words ``wb``, both ``(W, N) uint64``)
    at Hamming distance <= ``max_dist``, with their distances ``(K,) uint16``."""
    d = np.zeros(len(i), dtype=np.uint16)
    for w in range(wq.shape[0]):
        d += np.bitwise_count(wq[w, i] ^ wb[w, j])
        if w % 2 == 1 or w == wq.shape[0] - 1:
            ok = d <= max_dist
            i, j, d = i[ok], j[ok], d[ok]
    return i, j, d


def _band_candidates(kq: np.ndarray, kb: np.ndarray | None, budget: int):
    """Candidate ``(query row, base row)`` chunks sharing a band key; ``kb`` None is a
    self-join of ``kq`` (each unordered pair once, query row < base row not implied)."""
    if kb is None:
        order = np.argsort(kq)
        sk = kq[order]
        starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        lengths = np.diff(np.r_[starts, len(sk)])
        pos = np.arange(len(sk))
        counts = np.repeat(starts + lengths, lengths) - pos - 1
        for a, b in _expand(pos + 1, counts, budget):
            yield order[a], order[b]
        return
    order = np.argsort(kb)
    sk = kb[order]
    lo = np.searchsorted(sk, kq, side="left")
    hi = np.searchsorted(sk, kq, side="right")
    for q, b in _expand(lo, hi - lo, budget):
        yield q, order[b]


def search_bands(query: np.ndarray, base: np.ndarray | None, max_dist: int,
                 bands: list[tuple[int, int]], budget: int = BUDGET) -> tuple[Pairs, int]:
    """Unique pairs within ``max_dist`` found through ``bands`` and the number of
    candidates checked. ``base`` None searches ``query`` against itself (pairs ``i < j``).
    Pairs found again in later bands are merged band by band, so memory holds the
    distinct pairs, not one copy per band."""
    wq = words_t(query)
    wb = wq if base is None else words_t(base)
    n_base = len(query) if base is None else len(base)
    empty = np.zeros(0, dtype=np.int64)
    acc: Pairs = (empty, empty, np.zeros(0, dtype=np.uint16))
    checked = 0
    for start, end in bands:
        kq = band_keys(query, start, end)
        kb = None if base is None else band_keys(base, start, end)
        found = [acc]
        for i, j in _band_candidates(kq, kb, budget):
            checked += len(i)
            found.append(_within(wq, wb, i, j, max_dist))
        acc = _unique(tuple(np.concatenate(p) for p in zip(*found)), n_base, ordered=base is None)
    return acc, checked


def _unique(pairs: Pairs, n_base: int, ordered: bool) -> Pairs:
    """Sorted unique pairs; ``ordered`` makes each self-join pair ``i < j``."""
    i, j, d = (np.asarray(p) for p in pairs)
    i, j = i.astype(np.int64), j.astype(np.int64)
    if ordered:
        i, j = np.minimum(i, j), np.maximum(i, j)
    _, first = np.unique(i * max(n_base, 1) + j, return_index=True)
    return i[first], j[first], d[first]


def near_pairs(query: np.ndarray, max_dist: int, base: np.ndarray | None = None,
               workers: int = 1, stats: dict | None = None) -> Pairs:
    """All pairs of ``(N, B) uint8`` codes within Hamming distance ``max_dist`` (bits).

    ``base`` None: pairs within ``query``, as ``(i, j, distance)`` arrays with ``i < j``.
    Otherwise: ``(query row, base row, distance)`` for every query-base pair (pairs
    inside ``base`` are never searched). Sorted by ``(i, j)``; distances ``uint16``.
    ``stats``, when given, receives ``candidates`` (pairs checked exactly) and ``bands``.
    ``max_dist`` at or over the code length matches every pair (exhaustive search).
    """
    nbits = query.shape[1] * 8
    if max_dist >= nbits:  # every pair matches: no banding applies
        from curate.dedup.exhaustive import exhaustive_pairs

        return exhaustive_pairs(query, max_dist, base)
    bands = band_edges(nbits, max_dist)
    groups = [bands[k::workers] for k in range(min(workers, len(bands)))]
    parts = _run_groups(query, base, max_dist, groups)
    pairs = tuple(np.concatenate([p[0][k] for p in parts]) for k in range(3))
    if stats is not None:
        stats.update(candidates=sum(p[1] for p in parts), bands=len(bands))
    n_base = len(query) if base is None else len(base)
    return _unique(pairs, n_base, ordered=base is None)


def _run_groups(query, base, max_dist, groups):
    """``search_bands`` over each group of bands: parallel calls (:mod:`curate.parallel`)
    when the runner installed them and there are several groups, else in this process."""
    return parallel.run_calls(search_bands, [(g,) for g in groups], shared=(query, base, max_dist))
