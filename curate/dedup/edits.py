"""Near-duplicate pairs that survive edits: gist buckets, then signature verification.

Candidates come from :func:`curate.dedup.clusters.bucket_pairs` over each clip's gist
(:func:`curate.dedup.signature.gist`, the border-cropped mean thumbnail at 8x8) with
cosine >= ``min_cos`` (linear in the number of clips for a fixed bucket size); each
candidate is then checked with :func:`curate.dedup.verify.distance` (crop, scale,
photometric and time search), kept when at most ``max_distance``. With ``workers > 1``
and Ray running, candidates are verified by Ray tasks in chunks.
"""

from __future__ import annotations

import numpy as np

from curate.dedup.clusters import bucket_pairs
from curate.dedup.signature import Signature, decode, gist
from curate.dedup.verify import distance

CHUNK = 2000  # candidate pairs per Ray task


def _verify(sigs: list[Signature], pairs: list[tuple[int, int]], max_distance: float,
            motion_weight: float) -> list[tuple[int, int, float]]:
    out = []
    for i, j in pairs:
        d = distance(sigs[i], sigs[j], motion_weight)
        if d <= max_distance:
            out.append((i, j, d))
    return out


def edit_pairs(signatures: list[str], max_distance: float, min_cos: float = 0.5,
               motion_weight: float = 0.1, workers: int = 1, stats: dict | None = None):
    """Pairs ``(i, j, distance)`` (``i < j``, arrays) of clips whose record signatures
    (strings of :func:`curate.dedup.signature.encode`; empty = none, never paired) are
    edited copies of each other. ``stats`` receives ``candidates`` (pairs verified).
    Raises ValueError for a malformed signature."""
    rows = [k for k, s in enumerate(signatures) if s]
    sigs = [decode(signatures[k]) for k in rows]
    by_size: dict[tuple, list[int]] = {}
    for k, s in enumerate(sigs):
        by_size.setdefault(s.thumbs.shape[1:], []).append(k)
    cand: list[tuple[int, int]] = []
    for members in by_size.values():
        g = np.stack([gist(sigs[k]) for k in members])
        i, j, _ = bucket_pairs(g, min_cos)
        cand += [(members[a], members[b]) for a, b in zip(i.tolist(), j.tolist())]
    if stats is not None:
        stats["candidates"] = len(cand)
    found = _run(sigs, cand, max_distance, motion_weight, workers)
    if not found:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0, np.float32)
    i, j, d = zip(*sorted(found))
    rows_arr = np.array(rows)
    return rows_arr[list(i)], rows_arr[list(j)], np.array(d, np.float32)


def _run(sigs, cand, max_distance, motion_weight, workers):
    if workers > 1 and len(cand) > CHUNK:
        import ray

        if ray.is_initialized():
            task = ray.remote(num_cpus=1)(_verify)
            ref = ray.put(sigs)
            parts = ray.get([task.remote(ref, cand[s:s + CHUNK], max_distance, motion_weight)
                             for s in range(0, len(cand), CHUNK)])
            return [p for part in parts for p in part]
    return _verify(sigs, cand, max_distance, motion_weight)
