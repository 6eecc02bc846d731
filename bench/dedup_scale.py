"""Near-duplicate search at scale: multi-index hashing against exhaustive search.

For each N (default 10^4, 10^5, 10^6) a child process makes N synthetic 1024-bit clip
hashes (uniform random bits, like 4 x 256-bit pHashes of unrelated clips) and plants
near-duplicates: ``--dup-fraction`` of the rows are copies of another row with ``k``
bits flipped, ``k`` uniform in ``0 .. 1.2 d`` so that some copies sit just outside the
threshold ``d`` (``--max-distance`` of the bits). It times :func:`curate.dedup.near_pairs`
plus the grouping (:func:`curate.dedup.groups.components`), then the exhaustive search
(:mod:`curate.dedup.exhaustive`) in the same process: over all pairs where
``N <= --exhaustive-max``, else over ``--sample`` query rows (half of them planted
copies) against all N, its time scaled by N / sample (marked ``~``).

Columns: wall s (search + groups), peak MB (the child's peak resident memory, codes and
Python included), search MB (peak numpy allocation during the search, tracemalloc),
candidates (pairs checked exactly), pairs found, recall (of exhaustive pairs, over the
sampled rows where sampled), speedup (exhaustive time / wall). Usage::

    python bench/dedup_scale.py [--sizes 10000 100000 1000000] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from curate.dedup import near_pairs  # noqa: E402
from curate.dedup.exhaustive import exhaustive_pairs  # noqa: E402
from curate.dedup.groups import components  # noqa: E402

NBITS = 1024


def planted_codes(n: int, dup_fraction: float, max_dist: int, seed: int = 0):
    """``(n, 128) uint8`` random codes with planted copies; returns (codes, copy rows)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, NBITS // 8), dtype=np.uint8)
    n_dup = int(n * dup_fraction)
    dst = rng.choice(n, n_dup, replace=False)
    src = rng.integers(0, n, n_dup)
    for s in range(0, n_dup, 8192):
        d, o = dst[s:s + 8192], src[s:s + 8192]
        k = rng.integers(0, int(1.2 * max_dist) + 1, len(d))
        rank = rng.random((len(d), NBITS)).argsort(axis=1)
        flips = np.packbits(rank < k[:, None], axis=1)
        codes[d] = codes[o] ^ flips
    return codes, np.sort(dst)


def one(n: int, args) -> dict:
    """Measure one size (runs in a child process); returns the table row."""
    max_dist = int(args.max_distance * NBITS)
    codes, copies = planted_codes(n, args.dup_fraction, max_dist)
    stats: dict = {}
    tracemalloc.start()
    t = time.perf_counter()
    i, j, _ = near_pairs(codes, max_dist, workers=args.workers, stats=stats)
    groups = components(n, i, j)
    wall = time.perf_counter() - t
    search_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    row = dict(n=n, wall=wall, search_mb=search_mb, candidates=stats["candidates"], pairs=len(i),
               groups=len(groups), sampled=n > args.exhaustive_max)
    rng = np.random.default_rng(1)
    rows = None
    if row["sampled"]:
        half = args.sample // 2
        rows = np.unique(np.r_[rng.choice(copies, half, replace=False), rng.choice(n, half, replace=False)])
    t = time.perf_counter()
    ei, ej, _ = exhaustive_pairs(codes, max_dist, rows=rows)
    ex = time.perf_counter() - t
    row["exhaustive"] = ex * (n / len(rows) if rows is not None else 1)
    found = set(zip(i.tolist(), j.tolist()))
    truth = list(zip(ei.tolist(), ej.tolist()))
    row["recall"] = sum(p in found for p in truth) / max(len(truth), 1)
    row["truth"] = len(truth)
    row["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--max-distance", type=float, default=0.05)
    ap.add_argument("--dup-fraction", type=float, default=0.05)
    ap.add_argument("--exhaustive-max", type=int, default=10_000)
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1, help="Ray tasks over bands (1: in-process, no Ray)")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        if args.workers > 1:  # bands go to Ray tasks (curate.dedup.search); Ray start not timed
            import ray

            ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        print(json.dumps(one(args.one, args)))
        return
    print(f"max distance {int(args.max_distance * NBITS)} of {NBITS} bits, "
          f"{args.dup_fraction:.0%} planted copies, {os.cpu_count()} CPUs, workers {args.workers}")
    print(f"{'N':>9} {'wall s':>7} {'peak MB':>8} {'search MB':>9} {'candidates':>11} {'pairs':>7} "
          f"{'recall':>7} {'exhaustive s':>13} {'speedup':>8}")
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n)] + sys.argv[1:]
        out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        mark = "~" if r["sampled"] else ""
        recall = f"{r['recall']:.4f}" + ("*" if r["sampled"] else "")
        print(f"{r['n']:>9} {r['wall']:>7.2f} {r['peak_mb']:>8.0f} {r['search_mb']:>9.0f} "
              f"{r['candidates']:>11} {r['pairs']:>7} {recall:>7} {mark + format(r['exhaustive'], '.1f'):>13} "
              f"{mark + format(r['exhaustive'] / r['wall'], '.0f'):>8}x")
    print("~ exhaustive time scaled from sampled query rows; * recall over pairs of sampled rows")


if __name__ == "__main__":
    main()
