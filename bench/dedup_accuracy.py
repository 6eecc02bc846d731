"""Near-duplicate precision and recall on labelled real footage: the current hash rule against the new default.

The labelled set is :mod:`bench.dedup_pairs` (originals from ``../shared/footage`` with
two edited copies each, hard negatives from one fixed camera, one room, one scene);
``tuning`` is the split the thresholds were chosen on, ``test`` is kept for measuring.
Every pair of clips in a split is judged; a pair is positive when both clips come from
one original. Rules, measured in the same run:

- ``phash 0.05 (old)``: the rule before this change, 4 evenly spaced frames of the frame
  sample, 1024-bit pHash, at most 5 % of bits apart;
- ``phash 0.05, bars cut``: the same with black bars cut first (the embed stage now);
- ``default``: what ``DedupStage()`` pairs: the pHash pairs plus edit pairs (gist buckets
  then signature verification at ``edit_distance`` 0.06, :mod:`curate.dedup.edits`),
  left-right flipped copies included (``mirror``), and turned ones (``turns``), gists from ``crop_gist_cos`` verified
  as crops, window gists (``crop_windows``) and reframed copies (:mod:`curate.dedup.reframe`); ``default, no mirror``
  without flipped copies; ``default, no reframe`` without reframes; ``default, no
  windows`` without the window gists of :mod:`curate.dedup.cropwin` (off-centre crops).

Pairs are judged directly (no transitive closure). Also printed: recall per edit kind
and false pairs per hard-negative group for the default, candidates verified and
verification time per candidate. Usage::

    python bench/dedup_accuracy.py [--footage ../shared/footage] [--cache /tmp/dedup_set]
"""

from __future__ import annotations

import argparse
import itertools
import os
import pickle
import sys
import time
from collections import Counter


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dedup_pairs import build  # noqa: E402

from curate.dedup import DedupStage, near_pairs  # noqa: E402
from curate.dedup.codes import hex_codes  # noqa: E402
from curate.dedup.edits import edit_pairs  # noqa: E402
from curate.dedup.reframe import reframe_pairs  # noqa: E402
from curate.embed import EmbedStage  # noqa: E402
from curate.phash import clip_phash  # noqa: E402
from curate.tasks import ClipTask  # noqa: E402


def load_split(footage: str, split: str, cache: str | None, builder=build) -> list[dict]:
    """The clips of ``split`` (``builder(footage, split)``, :func:`dedup_pairs.build` by
    default), from ``cache`` when it holds them."""
    path = os.path.join(cache, f"{split}.pkl") if cache else None
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return pickle.load(f)
    clips = builder(footage, split)
    if path:
        os.makedirs(cache, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump(clips, f)
    return clips


def embed(clip: dict) -> tuple[str, str]:
    """(pHash, signature) of a clip as the embed stage makes them."""
    task = ClipTask(source=None, span=None, clip_id="x", work_dir="")

    class _Rec:  # the two fields the embed stage writes
        phash = ""
        dedup_signature = ""

    task.record = _Rec()
    task.frames, task.motion = clip["frames"], clip["motion"]
    task.motion_times = [k * clip["motion_step_s"] for k in range(len(clip["motion"]))]
    EmbedStage().process(task)
    return task.record.phash, task.record.dedup_signature


def hash_pairs(hashes: list[str], frac: float) -> set[tuple[int, int]]:
    codes = hex_codes(hashes)
    i, j, _ = near_pairs(codes, int(frac * len(hashes[0]) * 4))
    return set(zip(i.tolist(), j.tolist()))


def score(found: set, truth: set) -> tuple[float, float, int, int, int]:
    tp = len(found & truth)
    return tp / max(len(found), 1), tp / max(len(truth), 1), tp, len(found - truth), len(truth - found)


def run_split(clips: list[dict], split: str) -> None:
    truth = {(a, b) for a, b in itertools.combinations(range(len(clips)), 2)
             if clips[a]["origin"] == clips[b]["origin"]}
    old = [clip_phash(c["frames"], 4) for c in clips]
    new = [embed(c) for c in clips]
    stage = DedupStage()
    t = time.perf_counter()
    stats: dict = {}
    ei, ej, _ = edit_pairs([s for _, s in new], stage.edit_distance, stage.min_gist_cos, stats=stats,
                           mirror=stage.mirror, crop_cos=stage.crop_gist_cos, crop_windows=stage.crop_windows,
                           turns=stage.turns)
    verify_s = time.perf_counter() - t
    ni, nj, _ = edit_pairs([s for _, s in new], stage.edit_distance, stage.min_gist_cos, mirror=False,
                           crop_cos=stage.crop_gist_cos, crop_windows=stage.crop_windows, turns=stage.turns)
    wi, wj, _ = edit_pairs([s for _, s in new], stage.edit_distance, stage.min_gist_cos, mirror=stage.mirror,
                           crop_cos=stage.crop_gist_cos, turns=stage.turns)
    rules = {
        "phash 0.05 (old)": hash_pairs(old, 0.05),
        "phash 0.05, bars cut": hash_pairs([h for h, _ in new], stage.max_distance),
    }
    rules["default, no mirror"] = rules["phash 0.05, bars cut"] | set(zip(ni.tolist(), nj.tolist()))
    ri, rj, _ = reframe_pairs([s for _, s in new], stage.edit_distance,
                              min(stage.min_gist_cos, stage.crop_gist_cos or 1.0))
    rules["default, no reframe"] = rules["phash 0.05, bars cut"] | set(zip(ei.tolist(), ej.tolist()))
    rules["default"] = rules["default, no reframe"] | set(zip(ri.tolist(), rj.tolist()))
    rules["default, no windows"] = (rules["phash 0.05, bars cut"] | set(zip(wi.tolist(), wj.tolist()))
                                    | set(zip(ri.tolist(), rj.tolist())))
    n_pairs = len(clips) * (len(clips) - 1) // 2
    print(f"\n{split}: {len(clips)} clips, {n_pairs} pairs, {len(truth)} positive")
    print(f"{'rule':24} {'precision':>9} {'recall':>7} {'TP':>5} {'FP':>5} {'FN':>5}")
    for name, found in rules.items():
        p, r, tp, fp, fn = score(found, truth)
        print(f"{name:24} {p:9.3f} {r:7.3f} {tp:5d} {fp:5d} {fn:5d}")
    found = rules["default"]
    kinds, hits, bare = Counter(), Counter(), Counter()
    for a, b in truth:
        if not clips[a]["edit"]:
            kinds[clips[b]["edit"]] += 1
            hits[clips[b]["edit"]] += (a, b) in found
            bare[clips[b]["edit"]] += (a, b) in rules["default, no windows"]
    print("default recall by edit (original vs copy; no windows, where it differs): " +
          ", ".join(f"{k} {hits[k]}/{kinds[k]}" + (f" ({bare[k]})" if bare[k] != hits[k] else "")
                    for k in sorted(kinds)))
    groups = Counter(clips[a]["group"] for a, b in found - truth if clips[a]["group"] == clips[b]["group"])
    print(f"default false pairs in hard-negative groups: {dict(groups) or 'none'}")
    print(f"edit verification: {stats['candidates']} candidates of {n_pairs} pairs, "
          f"{1000 * verify_s / max(stats['candidates'], 1):.1f} ms per candidate")


def main(builder=build, doc: str = __doc__) -> None:
    """Score the splits of ``builder``'s labelled set (command line: ``--footage``,
    ``--cache``, ``--splits``)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--footage", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "footage"))
    ap.add_argument("--cache", default=None, help="folder to keep the built clip set in (rebuilt when absent)")
    ap.add_argument("--splits", nargs="+", default=["tuning", "test"])
    args = ap.parse_args()
    for split in args.splits:
        run_split(load_split(os.path.abspath(args.footage), split, args.cache, builder), split)


if __name__ == "__main__":
    main()
