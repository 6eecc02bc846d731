"""Shot boundaries in fast-cut footage (trailers, music videos, highlight reels), one run.

    python bench/montage_accuracy.py [--footage ../shared/footage] [--split test] [--seeds 10 11 12 13]
        [--shots 60] [--only split/adaptive ...]

``bench/split_accuracy.py`` joins segments of 40 frames or more; here every shot is short.
Each seed builds one video of ``--shots`` shots from the segments of ``--split``
(:func:`labelled_edits.segment_list`: ``tuning`` or ``test``, the same disjoint stretches
of the footage), each 3, 4, 5, 6, 8, 10, 12, 15, 20, 30 or 45 frames long (25 fps) from a
random point of a segment of another file than the shot before, joined by hard cuts, or
(about one join in eleven: 12 % of joins into a shot of 6 frames or more, when the shot
before keeps 3 frames of its own) by a 2-4 frame dissolve. A jump cut inside a segment's
stretch, 3 frames or more from its ends, is a true cut too (a stretch with one nearer is
drawn again). Distractors, no boundary: in about one shot in ten, 1-3 frames of the new
shot's start under a flash (a gain of 1.6-3 with an offset, over the whole view or rising
across it); in about one in fifteen, 1-3 flashed frames inside the shot. Truth and
matching are ``bench/split_accuracy.py``'s (a cut within 2 frames, a dissolve
``[s - 2, e + 1]``, one-to-one; a boundary within 2 frames of a flash is a false one
there).

Prints, per detection path: precision, recall and F1 of boundaries, recall of cuts and
dissolves, false boundaries at flashes, and the recall of cuts by the length of the
shorter shot beside them. Then the relit-copy check of
:func:`curate.split.lights.relit_copy` on frames of the split's segments: a frame against
a copy of the frame 1-3 later under a gain of 0.5-3 (whole view or a ramp) must count as
relit; against a frame of another file it must not. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import defaultdict

import cv2
import numpy as np
from scenedetect import AdaptiveDetector

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labelled_edits import Edit, _mix, load_pieces, segment_list, write  # noqa: E402
from split_accuracy import match, ours, scenedetect_starts  # noqa: E402

from curate.split import SplitStage  # noqa: E402
from curate.split.lights import relit_copy  # noqa: E402
from curate.split.transitions import thumbnail  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LENGTHS = (3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 45)  # frames of a shot


def lit(img: np.ndarray, rng: np.random.Generator, gain: float | None = None, ramp: bool | None = None,
        offset: bool = True) -> np.ndarray:
    """``img`` ``(H, W, 3) uint8`` under a flash: a gain (drawn from 1.6-3 unless given) and an
    offset of 0-60 levels over the whole view, or (``ramp``) rising from nothing at one side
    to all of it at the other."""
    g = float(rng.uniform(1.6, 3.0)) if gain is None else gain
    ramp = bool(rng.random() < 0.4) if ramp is None else ramp
    f = img.astype(np.float32)
    if ramp:
        r = np.linspace(0, 1, img.shape[1], dtype=np.float32)[None, :, None]
        r = r[:, ::-1] if rng.integers(2) else r
        f = f * (1 + (g - 1) * r) + (40 * r if offset else 0)
    else:
        f = f * g + (float(rng.uniform(0, 60)) if offset else 0)
    return np.clip(f, 0, 255).astype(np.uint8)


def build(segments, seed: int, shots: int) -> tuple[list[np.ndarray], list[Edit]]:
    """One montage of ``shots`` shots (module docstring) from ``segments``: a list of
    ``(frames, jump cuts, file)``. Returns its RGB frames and its truth, sorted."""
    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    edits: list[Edit] = []
    prev, last = None, 0
    for _ in range(shots):
        pool = [i for i, (seg, _, path) in enumerate(segments) if path != prev and len(seg) > 50]
        i = int(rng.choice(pool))
        seg_all, jumps, prev = segments[i]
        n = int(rng.choice(LENGTHS))
        start = int(rng.integers(0, len(seg_all) - n))
        while any(start <= j < start + 5 or start + n - 3 < j < start + n for j in jumps):  # none near an end
            start = int(rng.integers(0, len(seg_all) - n))
        seg = [f.copy() for f in seg_all[start:start + n]]
        inner = [j - start for j in jumps if start < j < start + n]
        event = rng.random()
        if frames:
            k = int(rng.integers(2, 5))
            if event < 0.12 and n >= 6 and last >= k + 3:  # a 2-4 frame dissolve over the shot before's end
                at = len(frames)
                head = frames[at - k:]
                del frames[at - k:]
                frames.extend(_mix(a, b, (m + 1) / (k + 1)) for m, (a, b) in enumerate(zip(head, seg[:k])))
                seg = seg[k:]
                edits.append(Edit("dissolve", at - k, at))
            else:
                edits.append(Edit("cut", len(frames), len(frames)))
                if event < 0.3 and n >= 8:  # the new shot starts under a flash
                    k = int(rng.integers(1, 4))
                    seg[:k] = [lit(f, rng) for f in seg[:k]]
                    edits.append(Edit("flash", len(frames), len(frames) + k))
        if 0.3 <= event < 0.45 and n >= 12:  # a flash inside the shot
            at, k = int(rng.integers(3, n - 5)), int(rng.integers(1, 4))
            seg[at:at + k] = [lit(f, rng) for f in seg[at:at + k]]
            edits.append(Edit("flash", len(frames) + at, len(frames) + at + k))
        first = len(frames) - (n - len(seg))  # output frame of the stretch's first frame
        edits += [Edit("cut", first + j, first + j) for j in inner]
        frames.extend(seg)
        last = len(seg)  # frames of this shot after the dissolve into it
    return frames, sorted(edits, key=lambda e: (e.start, e.end))


def shorter_side(edits: list[Edit], cut: Edit) -> int:
    """Frames of the shorter of the two shots beside ``cut`` (boundaries: cuts and dissolves)."""
    points = sorted({e.start for e in edits if e.kind in ("cut", "dissolve")} | {e.end for e in edits
                                                                                  if e.kind == "dissolve"})
    k = points.index(cut.start)
    left = cut.start - points[k - 1] if k else 10 ** 6
    right = points[k + 1] - cut.start if k + 1 < len(points) else 10 ** 6
    return min(left, right)


def matched(edits: list[Edit], found: list[int]) -> set[Edit]:
    """The true edits (cuts, dissolves) that ``found`` matches one-to-one, as
    ``bench/split_accuracy.py``'s :func:`match` does (shortest edits first)."""
    left, hits = sorted(found), set()
    for e in sorted((e for e in edits if e.kind in ("cut", "dissolve")), key=lambda e: e.end - e.start):
        lo, hi = (e.start - 2, e.end + 2) if e.start == e.end else (e.start - 2, e.end + 1)
        hit = next((f for f in left if lo <= f <= hi), None)
        if hit is not None:
            left.remove(hit)
            hits.add(e)
    return hits


def score(name: str, results: list[tuple[list[Edit], list[int]]]) -> None:
    """Print one detection path's line and its cut recall by shot length."""
    tp = fp = 0
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_len: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for edits, found in results:
        kinds, t, f = match(edits, found)
        tp, fp = tp + t, fp + f
        for k, (hit, total) in kinds.items():
            per[k][0] += hit
            per[k][1] += total
        hits = matched(edits, found)
        for e in (e for e in edits if e.kind == "cut"):
            side = shorter_side(edits, e)
            key = "3-5" if side <= 5 else "6-12" if side <= 12 else "13+"
            by_len[key][0] += e in hits
            by_len[key][1] += 1
    truth = sum(per[k][1] for k in ("cut", "dissolve"))
    p, r = tp / max(tp + fp, 1), tp / max(truth, 1)
    f1 = 2 * p * r / max(p + r, 1e-9)
    ratio = lambda k, d: f"{d[k][0]}/{d[k][1]}"  # noqa: E731
    print(f"| {name} | {p:.3f} | {r:.3f} | {f1:.3f} | {ratio('cut', per)} | {ratio('dissolve', per)} | "
          f"{ratio('flash', per)} | {ratio('3-5', by_len)} | {ratio('6-12', by_len)} | {ratio('13+', by_len)} |")


def relit_check(segments, seed: int, draws: int = 300) -> None:
    """Print how often :func:`curate.split.lights.relit_copy` takes a frame's relit copy
    for one (it should) and a frame of another file for one (it should not)."""
    rng = np.random.default_rng(seed)
    thumb = lambda rgb: thumbnail(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))  # noqa: E731
    kinds = {"x0.5": (0.5, False), "x1.3": (1.3, False), "x1.6": (1.6, False), "x2.5": (2.5, False),
             "ramp x2": (2.0, True), "ramp x3": (3.0, True)}
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _ in range(draws):
        i = int(rng.integers(len(segments)))
        seg, jumps, path = segments[i]
        k, d = int(rng.integers(1, len(seg) - 4)), int(rng.integers(1, 4))
        if any(k - 1 <= j <= k + d for j in jumps):
            continue
        a = thumb(seg[k - 1])
        for name, (gain, ramp) in kinds.items():
            hits[name][0] += relit_copy(a, thumb(lit(seg[k + d - 1], rng, gain, ramp, offset=False)))
            hits[name][1] += 1
        other = segments[int(rng.integers(len(segments)))]
        if other[2] != path:
            hits["another file"][0] += relit_copy(a, thumb(other[0][int(rng.integers(len(other[0])))]))
            hits["another file"][1] += 1
    print("relit copies taken as such: " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in hits.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--footage", default=os.path.join(ROOT, "..", "shared", "footage"))
    ap.add_argument("--split", default="test", choices=["tuning", "test"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12, 13])
    ap.add_argument("--shots", type=int, default=60)
    ap.add_argument("--only", nargs="*", help="detection paths to run (default: all)")
    args = ap.parse_args()
    specs = segment_list(args.footage, args.split)
    segments = [(*load_pieces(s), s[0][0]) for s in specs]
    runs = [("split/adaptive", lambda p: ours(p, SplitStage(detector="adaptive"))),
            ("split/content", lambda p: ours(p, SplitStage(detector="content"))),
            ("detect-adaptive", lambda p: scenedetect_starts(p, AdaptiveDetector()))]
    with tempfile.TemporaryDirectory(prefix="montage-") as tmp:
        labelled = []
        for seed in args.seeds:
            frames, edits = build(segments, seed, args.shots)
            path = os.path.join(tmp, f"montage_{seed}.mp4")
            write(path, frames)
            labelled.append((path, edits))
        counts = defaultdict(int)
        for _, edits in labelled:
            for e in edits:
                counts[e.kind] += 1
        print(f"{args.split} split, seeds {args.seeds}: {len(labelled)} montages, edits {dict(counts)}")
        print("| path | P | R | F1 | cuts | dissolves | false at flashes | cuts by shorter shot: 3-5 frames | 6-12 | 13+ |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, fn in runs:
            if args.only and name not in args.only:
                continue
            score(name, [(edits, fn(path)) for path, edits in labelled])
    relit_check(segments, args.seeds[0])


if __name__ == "__main__":
    main()
