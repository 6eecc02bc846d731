"""Near pairs of unit vectors by k-means buckets, then cosine inside each bucket.

After SemDeDup (Abbas et al., "SemDeDup: Data-efficient learning at web-scale through
semantic deduplication", 2023): vectors are clustered with k-means (Lloyd's iterations
on a sample, numpy), every vector joins its ``probes`` nearest centroids' buckets (so
a pair split by a cluster border is still found), and pairs inside a bucket are kept
when their cosine similarity is at least ``min_cos``. Work is ``O(N k)`` for the
assignment plus the squares of the bucket sizes: about ``N * probes * N / k`` with
``k = N / bucket``, i.e. linear in ``N`` for a fixed ``bucket`` size. Approximate: a
pair whose vectors fall in no common bucket is missed. Defaults (512 per bucket, 3
probes) measured on 10^5 unstructured random 64-d unit vectors with 5 % planted copies
(cosine ~0.93): 9.3 s on 2 loaded cores, 98 % of the planted pairs found (2 probes: 90 %;
4 probes at 256 per bucket: 99 %, 21 s); at 10^6: 107 s, 2.5 GB peak, 91 % of the
planted pairs. Real gists and CLIP embeddings are clustered,
which helps; sets under ``bucket`` vectors are one bucket (exact).
"""

from __future__ import annotations

import numpy as np

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def kmeans(x: np.ndarray, k: int, iters: int = 10, sample: int = 50_000, seed: int = 0) -> np.ndarray:
    """``(k, D) float32`` centroids of ``(N, D) float32`` rows (Lloyd's iterations on at most
    ``sample`` rows, started from distinct random rows). ``k`` is clipped to ``N``."""
    rng = np.random.default_rng(seed)
    fit = x[rng.choice(len(x), min(sample, len(x)), replace=False)]
    k = max(1, min(k, len(fit)))
    cent = fit[rng.choice(len(fit), k, replace=False)].copy()
    for _ in range(iters):
        lab = np.argmax(fit @ cent.T - 0.5 * (cent * cent).sum(axis=1), axis=1)
        sums = np.zeros_like(cent)
        np.add.at(sums, lab, fit)
        cnt = np.bincount(lab, minlength=k)
        full = cnt > 0
        cent[full] = sums[full] / cnt[full, None]
    return cent


def nearest(x: np.ndarray, cent: np.ndarray, probes: int, block: int = 65_536) -> np.ndarray:
    """``(N, probes) int64`` indices of each row's ``probes`` nearest centroids (squared L2,
    in no particular order), in blocks."""
    half = 0.5 * (cent * cent).sum(axis=1)
    out = np.empty((len(x), probes), dtype=np.int64)
    for s in range(0, len(x), block):
        score = x[s:s + block] @ cent.T - half
        if probes < score.shape[1]:
            out[s:s + block] = np.argpartition(-score, probes - 1, axis=1)[:, :probes]
        else:
            out[s:s + block] = np.argsort(-score, axis=1)[:, :probes]
    return out


def bucket_pairs(x: np.ndarray, min_cos: float, bucket: int = 512, probes: int = 3, seed: int = 0) -> Pairs:
    """Pairs ``(i, j, cosine)`` with ``i < j`` of ``(N, D)`` unit rows with cosine >= ``min_cos``
    that share a bucket (see module docstring); sorted by ``(i, j)``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    cent = kmeans(x, max(1, n // bucket), seed=seed)
    near = nearest(x, cent, min(probes, len(cent)))
    members = np.repeat(np.arange(n), near.shape[1])
    labels = near.ravel()
    order = np.argsort(labels, kind="stable")
    labels, members = labels[order], members[order]
    cuts = np.flatnonzero(np.diff(labels)) + 1
    out_i, out_j, out_c = [], [], []
    for group in np.split(members, cuts):
        if len(group) < 2:
            continue
        sim = x[group] @ x[group].T
        a, b = np.nonzero(sim >= min_cos)
        keep = a < b
        a, b = a[keep], b[keep]
        out_i.append(group[a])
        out_j.append(group[b])
        out_c.append(sim[a, b])
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    i, j, c = (np.concatenate(v) for v in (out_i, out_j, out_c))
    i, j = np.minimum(i, j), np.maximum(i, j)
    _, first = np.unique(i * n + j, return_index=True)
    return i[first], j[first], c[first].astype(np.float32)
