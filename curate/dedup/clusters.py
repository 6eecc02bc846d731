"""Near pairs of unit vectors by k-means buckets, then cosine inside each bucket.

After SemDeDup (Abbas et al., "SemDeDup: Data-efficient learning at web-scale through
semantic deduplication", 2023): vectors are clustered with k-means (Lloyd's iterations
on a sample; FAISS when the ``faiss-cpu`` package is installed, else numpy), every
vector joins its ``probes`` nearest centroids' buckets (so a pair split by a cluster
border is still found), and pairs inside a bucket are kept when their cosine
similarity is at least ``min_cos``. With ``k = N / bucket`` centroids the assignment is
one ``N x k`` distance product (``N^2 / bucket``, small constant) and the buckets cost
about ``N * probes * bucket`` dot products. Approximate: a pair whose vectors share no
bucket is missed; sets of at most ``bucket`` vectors are one bucket (exact).

Measured with the defaults (512 per bucket, 3 probes, FAISS) on unstructured random
64-d unit vectors with 5 % planted copies (cosine ~0.93), 2 loaded cores: 10^5 in 6.4 s
(98 % of planted pairs found), 10^6 in 38 s, 1.0 GB peak (92 %); numpy alone: 9.3 s
and 107 s, 2.5 GB. Real gists and CLIP embeddings are clustered, which helps recall.
"""

from __future__ import annotations

import numpy as np

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def _faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def kmeans(x: np.ndarray, k: int, iters: int = 10, sample: int = 50_000, seed: int = 0) -> np.ndarray:
    """``(k, D) float32`` centroids of ``(N, D) float32`` rows (Lloyd's iterations on at most
    ``max(sample, 64 k)`` rows, started from distinct random rows; FAISS's ``Kmeans`` when the
    ``faiss`` package is installed, else numpy). ``k`` is clipped to ``N``."""
    rng = np.random.default_rng(seed)
    sample = max(sample, 64 * k)  # at least 64 rows per centroid where there are
    fit = np.ascontiguousarray(x[rng.choice(len(x), min(sample, len(x)), replace=False)], np.float32)
    k = max(1, min(k, len(fit)))
    faiss = _faiss()
    if faiss is not None and k > 1:
        km = faiss.Kmeans(fit.shape[1], k, niter=iters, seed=seed, max_points_per_centroid=max(1, sample // k + 1))
        km.train(fit)
        return km.centroids.copy()
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
    """``(N, probes) int64`` indices of each row's ``probes`` nearest centroids (squared L2;
    FAISS's exact ``IndexFlatL2`` when installed, else numpy in blocks)."""
    faiss = _faiss()
    if faiss is not None:
        index = faiss.IndexFlatL2(cent.shape[1])
        index.add(np.ascontiguousarray(cent, np.float32))
        return index.search(np.ascontiguousarray(x, np.float32), probes)[1].astype(np.int64)
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


def bucket_blocks(q: np.ndarray, base: np.ndarray, bucket: int = 512, probes: int = 3, seed: int = 0):
    """Yield ``(query rows, base rows, cosines)`` per bucket: ``(m,)`` and ``(b,)`` int64 rows
    (each in increasing order) and their ``(m, b) float32`` cosine block, for ``(M, D)``
    query rows and ``(N, D)`` base rows (unit rows): the base is clustered (:func:`kmeans`,
    ``N / bucket`` centroids) and every row of both joins its ``probes`` nearest centroids'
    buckets; only query-base pairs are compared (none within the base or within the
    queries). A pair may meet in several buckets; one that shares none is missed, as in
    :func:`bucket_pairs`."""
    q = np.ascontiguousarray(q, dtype=np.float32)
    base = np.ascontiguousarray(base, dtype=np.float32)
    if len(q) == 0 or len(base) == 0:
        return
    cent = kmeans(base, max(1, len(base) // bucket), seed=seed)
    probes = min(probes, len(cent))
    members_b = _by_label(nearest(base, cent, probes), len(cent))
    members_q = _by_label(nearest(q, cent, probes), len(cent))
    for mq, mb in zip(members_q, members_b):
        if len(mq) and len(mb):
            yield mq, mb, q[mq] @ base[mb].T


def _by_label(near: np.ndarray, k: int) -> list[np.ndarray]:
    """Rows of each of ``k`` buckets, in increasing order, from each row's ``(N, probes)``
    bucket labels."""
    members = np.repeat(np.arange(len(near)), near.shape[1])
    labels = near.ravel()
    order = np.argsort(labels, kind="stable")
    cuts = np.searchsorted(labels[order], np.arange(k + 1))
    return [members[order[cuts[c]:cuts[c + 1]]] for c in range(k)]
