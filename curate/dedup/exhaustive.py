"""Exhaustive near-duplicate search: every pair's Hamming distance, in row blocks.

The reference that :func:`curate.dedup.search.near_pairs` must equal (tests) and the
baseline of ``bench/dedup_scale.py``. Time is ``O(N M)``; memory is one
``(block, M)`` block of distances.
"""

from __future__ import annotations

import numpy as np

from curate.dedup.codes import words_t


def exhaustive_pairs(query: np.ndarray, max_dist: int, base: np.ndarray | None = None,
                     rows: np.ndarray | None = None, cells: int = 1 << 23):
    """Same contract as :func:`curate.dedup.search.near_pairs`, by brute force.

    ``query``/``base`` are ``(N, B)``/``(M, B) uint8`` codes. ``rows`` restricts the
    search to those query rows (a sample, for timing and recall at scale); in a
    self-search the pairs of a sampled row with every other row are returned as
    ``(min, max)``. ``cells`` bounds a block to about ``cells`` distances (2 bytes each).
    Returns ``(i, j, distance)`` arrays sorted by ``(i, j)``.
    """
    wb = words_t(query if base is None else base)
    rows = np.arange(len(query)) if rows is None else np.asarray(rows)
    block = max(1, cells // max(wb.shape[1], 1))
    out_i, out_j, out_d = [], [], []
    for s in range(0, len(rows), block):
        r = rows[s:s + block]
        wq = words_t(query[r])
        d = np.zeros((len(r), wb.shape[1]), dtype=np.uint16)
        for w in range(wb.shape[0]):
            d += np.bitwise_count(wq[w][:, None] ^ wb[w][None, :])
        a, b = np.nonzero(d <= max_dist)
        dist, a = d[a, b], r[a]
        if base is None:
            keep = a != b
            a, b, dist = np.minimum(a, b)[keep], np.maximum(a, b)[keep], dist[keep]
        out_i.append(a)
        out_j.append(b)
        out_d.append(dist)
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint16)
    i, j, dist = (np.concatenate(x) for x in (out_i, out_j, out_d))
    i, j = i.astype(np.int64), j.astype(np.int64)
    _, first = np.unique(i * max(wb.shape[1], 1) + j, return_index=True)
    return i[first], j[first], dist[first]
