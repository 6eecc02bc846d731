"""Shot-boundary accuracy of the split stage against PySceneDetect and TransNetV2, one run.

    python bench/split_accuracy.py [--split test] [--footage ../shared/footage] [--videos 4] [--seeds 0 1 2]

Builds a labelled set by editing real footage (:mod:`labelled_edits`): hard cuts, jump
cuts within one camera or room, dissolves, fades to black and white, and distractors that
are no boundary (2-frame white flashes, whip pans, brightness dips and rises, some within
half a second before a cut; with ``--overlays`` also a graphic overlay shown over 1-2 s of
each long segment, with ``--screens`` a TV in view of each long segment whose own
footage cuts 1-3 times, :mod:`distractors`); one video has variable frame timing. ``--split tuning`` uses
the segments the thresholds were tuned on, ``--split test`` (default) segments that none
were. Each seed of ``--seeds`` builds another set from the same segments (other order,
joins, transition lengths and distractor kinds); their videos are scored together.
Prints precision, recall and F1 of boundaries, recall per transition kind, false
positives per distractor kind and detection speed (frames per second on this machine) for

- ``split/adaptive``, ``split/content``, ``split/transnetv2``: the split stage's detection
  path (``SplitStage(detector=...).shot_detector`` fed by the one decode a run makes,
  :func:`curate.onepass.detect_pass`: clip-size frames at local.yaml's 256 px short side,
  shrunk to ``detect_width``; the speed includes that decode); each hard cut is one boundary, each gap
  (transition left out of the clips) one boundary at its middle frame;
- ``transnetv2 alone``: the network's detections without our flash and blank handling
  (scored from the ``split/transnetv2`` pass, so it has that pass's speed);
- ``detect-adaptive`` / ``detect-content``: ``scenedetect.detect(path, AdaptiveDetector())``
  or ``ContentDetector()``, PySceneDetect's defaults, each scene start after the first.

Matching is one-to-one: a true cut or jump cut at frame ``c`` is found by a boundary in
``[c - 2, c + 2]``; a dissolve or fade ``[s, e)`` by one in ``[s - 2, e + 1]``. A
boundary matching nothing is a false positive, and counted against a distractor when it
lies within 2 frames of one. Last, every detection path runs over the whole single-shot
files of the footage (fixed street and indoor cameras with cars and people moving, a
hand-held camera; ``cityCC0.mpg`` has one true cut) and prints its boundaries there: any
boundary but ``cityCC0.mpg``'s cut is false. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
from scenedetect import AdaptiveDetector, ContentDetector, detect

from curate.codec import probe
from curate.extract import ExtractStage
from curate.onepass import detect_pass
from curate.probe import ProbeStage
from curate.split import SplitStage
from curate.split.shots import Boundaries
from curate.split.transnet import net_boundaries
from curate.tasks import SourceTask

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labelled_edits import Edit, build_set  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 2  # frames
NEGATIVE = ("flash", "whip_pan", "brightness", "overlay", "screen")
NET_SCORES: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # path -> TransNetV2 scores of the last pass


def ours(path: str, stage: SplitStage) -> list[int]:
    """Boundary frames of the split stage's detection path on ``path``: the one decode a
    run makes (:func:`curate.onepass.detect_pass`: frames at local.yaml's clip size,
    256 px short side, shrunk to ``detect_width`` for the detector)."""
    src = ProbeStage(limits=None)(SourceTask(path=path, work_dir="")).source
    detector, *_ = detect_pass(src, stage, ExtractStage(short_side=256, limits=None))
    points = detector.boundaries().points()
    if detector.net_scores is not None:
        NET_SCORES[path] = detector.net_scores
    return points


def net_alone(path: str) -> list[int]:
    """TransNetV2's own detections (from the scores of the ``split/transnetv2`` pass)."""
    cuts, gaps = net_boundaries(*NET_SCORES[path])
    return Boundaries(cuts, gaps).points()


def scenedetect_starts(path: str, detector) -> list[int]:
    """Scene starts (after the first) of ``scenedetect.detect`` with ``detector``."""
    return [start.frame_num for start, _ in detect(path, detector)[1:]]


def match(edits: list[Edit], found: list[int]) -> tuple[dict[str, list[int]], int, int]:
    """One-to-one matching. Returns ``({kind: [hits, total]}, true positives, false positives)``;
    distractors count as ``[false boundaries near them, distractors]``."""
    left = sorted(found)
    per: dict[str, list[int]] = {}
    tp = 0
    for e in sorted((e for e in edits if e.kind not in NEGATIVE), key=lambda e: e.end - e.start):
        lo, hi = (e.start - TOL, e.end + TOL) if e.start == e.end else (e.start - TOL, e.end - 1 + TOL)
        hit = next((f for f in left if lo <= f <= hi), None)
        per.setdefault(e.kind, [0, 0])[1] += 1
        if hit is not None:
            left.remove(hit)
            per[e.kind][0] += 1
            tp += 1
    for e in (e for e in edits if e.kind in NEGATIVE):
        per.setdefault(e.kind, [0, 0])
        per[e.kind][0] += sum(1 for f in left if e.start - TOL <= f <= e.end + TOL)
        per[e.kind][1] += 1
    return per, tp, len(left)


def score(name: str, results: list[tuple[list[Edit], list[int]]], seconds: float, frames: int) -> None:
    """Print precision, recall, F1, per-kind recall, distractor false positives and speed
    (``frames`` decoded in ``seconds``) of one detector over the set."""
    tp = fp = n_true = 0
    kinds: dict[str, list[int]] = {}
    for edits, found in results:
        per, t, f = match(edits, found)
        tp, fp = tp + t, fp + f
        n_true += sum(1 for e in edits if e.kind not in NEGATIVE)
        for k, (h, n) in per.items():
            kinds.setdefault(k, [0, 0])
            kinds[k][0] += h
            kinds[k][1] += n
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / n_true if n_true else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    detail = " ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(kinds.items()) if k not in NEGATIVE)
    neg = " ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(kinds.items()) if k in NEGATIVE)
    speed = f"{frames / seconds:.0f} fps" if seconds > 0 else "same pass"
    print(f"{name:<18} P {p:.3f} R {r:.3f} F1 {f1:.3f} (tp {tp} fp {fp} true {n_true}; {speed})\n"
          f"{'':<18} recall: {detail}\n{'':<18} false boundaries on distractors: {neg}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--footage", default=os.path.join(ROOT, "..", "shared", "footage"))
    ap.add_argument("--split", default="test", choices=["tuning", "test"])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1, help="times each footage segment is used")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="one labelled set per seed")
    ap.add_argument("--only", nargs="*", help="names of the detectors to run (default: all)")
    ap.add_argument("--overlays", action="store_true",
                    help="show a graphic overlay over 1-2 s of each long segment (a distractor)")
    ap.add_argument("--screens", action="store_true",
                    help="put a TV playing other footage that cuts into each long segment (a distractor)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="split-accuracy-") as tmp:
        start = time.perf_counter()
        labelled = []
        for seed in args.seeds:
            os.makedirs(os.path.join(tmp, str(seed)))
            labelled += build_set(os.path.join(tmp, str(seed)), args.footage, args.videos, seed,
                                  args.rounds, args.split, args.overlays, args.screens)
        n_frames = sum(probe(p).num_frames or 0 for p, _ in labelled)
        counts: dict[str, int] = {}
        for _, edits in labelled:
            for e in edits:
                counts[e.kind] = counts.get(e.kind, 0) + 1
        print(f"{args.split} split, seeds {args.seeds}: {len(labelled)} videos, {n_frames} frames at 25 fps "
              f"(video 1 of each seed VFR), "
              f"edits {counts} (built in {time.perf_counter() - start:.1f} s)")
        runs = [("split/adaptive", lambda p: ours(p, SplitStage(detector="adaptive"))),
                ("split/content", lambda p: ours(p, SplitStage(detector="content"))),
                ("split/transnetv2", lambda p: ours(p, SplitStage(detector="transnetv2", device="cpu"))),
                ("transnetv2 alone", net_alone),
                ("detect-adaptive", lambda p: scenedetect_starts(p, AdaptiveDetector())),
                ("detect-content", lambda p: scenedetect_starts(p, ContentDetector()))]
        for name, fn in runs:
            wanted = set(args.only or []) | ({"transnetv2 alone"} if "split/transnetv2" in (args.only or []) else set())
            if args.only and name not in wanted:
                continue
            start = time.perf_counter()
            results = [(edits, fn(path)) for path, edits in labelled]
            seconds = 0.0 if name == "transnetv2 alone" else time.perf_counter() - start
            score(name, results, seconds, n_frames)
            if name != "transnetv2 alone":
                whole_files(name, fn, args.footage)


def whole_files(name: str, fn, footage: str) -> None:
    """Print the boundaries ``fn`` finds in each single-shot footage file (cityCC0.mpg: one cut
    at frame 116 is true)."""
    found = []
    for f in ("car-detection.mp4", "one-by-one-person-detection.mp4", "bottle-detection.mp4", "cityCC0.mpg"):
        path = os.path.join(footage, f)
        if os.path.exists(path):
            found.append(f"{f} {fn(path)}")
    print(f"{'':<18} whole files: " + "; ".join(found))


if __name__ == "__main__":
    main()
