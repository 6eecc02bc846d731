"""Shot-boundary accuracy of the split stage against PySceneDetect's ``detect-adaptive``, same run.

    python bench/split_accuracy.py [--footage ../shared/footage] [--videos 6] [--rounds 2] [--seed 0]

Builds a labelled set by editing real footage with hard cuts, dissolves, fades to black
and white, and 2-frame white flashes at known frames (:mod:`labelled_edits`), then
prints precision, recall and F1 of boundaries for

- ``split``: our split stage's detection path (``SplitStage().shot_detector`` fed by the
  same reduced-size PyAV decode as :meth:`curate.split.SplitStage.process`); each hard
  cut is one boundary, each gap (transition left out of the clips) one boundary at its
  middle frame;
- ``split, cuts only``: the same with ``gradual=False, flash_s=0, blank_std=None``
  (PySceneDetect detectors as fed before transition handling);
- ``detect-adaptive``: ``scenedetect.detect(path, AdaptiveDetector())``, PySceneDetect's
  defaults, each scene start after the first one boundary.

Matching is one-to-one: a true cut at frame ``c`` is found by a boundary in
``[c - 2, c + 2]``; a dissolve or fade ``[s, e)`` by one in ``[s - 2, e + 1]``. A
boundary near a flash, or matching nothing, is a false positive. Per-kind recall and
flash false positives are printed too. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from scenedetect import AdaptiveDetector, detect

from curate.codec import iter_frames, probe, scaled_size
from curate.split import SplitStage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labelled_edits import Edit, build_set  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 2  # frames


def ours(path: str, stage: SplitStage) -> list[int]:
    """Boundary frames of the split stage's detection path on ``path``."""
    src = probe(path)
    w = min(stage.detect_width, src.width)
    size = scaled_size(w, max(2, round(src.height * w / src.width)), None)
    detector = stage.shot_detector(src.fps)
    for frame in iter_frames(path, size=size, fmt="bgr24", rotation=src.rotation):
        detector.feed(frame.image)
    return detector.boundaries().points()


def adaptive(path: str) -> list[int]:
    """Scene starts (after the first) of PySceneDetect's default adaptive detection."""
    return [start.frame_num for start, _ in detect(path, AdaptiveDetector())[1:]]


def match(edits: list[Edit], found: list[int]) -> tuple[dict[str, list[int]], int, int]:
    """One-to-one matching. Returns ``({kind: [hits, total]}, true positives, false positives)``;
    flashes count under ``flash`` as ``[boundaries near it, flashes]``."""
    left = sorted(found)
    per: dict[str, list[int]] = {}
    tp = 0
    for e in sorted((e for e in edits if e.kind != "flash"), key=lambda e: e.end - e.start):
        lo, hi = (e.start - TOL, e.end + TOL) if e.kind == "cut" else (e.start - TOL, e.end - 1 + TOL)
        hit = next((f for f in left if lo <= f <= hi), None)
        per.setdefault(e.kind, [0, 0])[1] += 1
        if hit is not None:
            left.remove(hit)
            per[e.kind][0] += 1
            tp += 1
    for e in (e for e in edits if e.kind == "flash"):
        per.setdefault("flash", [0, 0])
        per["flash"][0] += sum(1 for f in left if e.start - TOL <= f <= e.end + TOL)
        per["flash"][1] += 1
    return per, tp, len(left)


def score(name: str, results: list[tuple[list[Edit], list[int]]], seconds: float) -> None:
    """Print precision, recall, F1 and per-kind recall of one detector over the set."""
    tp = fp = n_true = 0
    kinds: dict[str, list[int]] = {}
    for edits, found in results:
        per, t, f = match(edits, found)
        tp, fp = tp + t, fp + f
        n_true += sum(1 for e in edits if e.kind != "flash")
        for k, (h, n) in per.items():
            kinds.setdefault(k, [0, 0])
            kinds[k][0] += h
            kinds[k][1] += n
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / n_true if n_true else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    detail = "  ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(kinds.items()) if k != "flash")
    flash = kinds.get("flash", [0, 0])
    print(f"{name:<20} P {p:.3f}  R {r:.3f}  F1 {f1:.3f}  (tp {tp}, fp {fp}, true {n_true}; "
          f"{seconds:.1f} s)  recall: {detail}  flash false positives {flash[0]}/{flash[1]} flashes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--footage", default=os.path.join(ROOT, "..", "shared", "footage"))
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2, help="times each footage segment is used")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="split-accuracy-") as tmp:
        start = time.perf_counter()
        labelled = build_set(tmp, args.footage, args.videos, args.seed, args.rounds)
        n_frames = sum(probe(p).num_frames or 0 for p, _ in labelled)
        counts = {}
        for _, edits in labelled:
            for e in edits:
                counts[e.kind] = counts.get(e.kind, 0) + 1
        print(f"labelled set: {len(labelled)} videos, {n_frames} frames at 25 fps, edits {counts} "
              f"(built in {time.perf_counter() - start:.1f} s)")
        runs = [("split", lambda p: ours(p, SplitStage())),
                ("split, cuts only", lambda p: ours(p, SplitStage(gradual=False, flash_s=0.0, blank_std=None))),
                ("detect-adaptive", adaptive)]
        for name, fn in runs:
            start = time.perf_counter()
            results = [(edits, fn(path)) for path, edits in labelled]
            score(name, results, time.perf_counter() - start)


if __name__ == "__main__":
    main()
