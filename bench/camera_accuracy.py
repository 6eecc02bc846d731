"""Camera-motion labels on real footage: fixed cameras (truth: static) and virtual camera moves.

    python bench/camera_accuracy.py [--footage ../shared/footage] [--split test|tuning|both] [--clip-s 3]

Labelled set, built from ``../shared/footage`` (real camera footage nobody on the project made):

- *static*: windows of ``--clip-s`` seconds of fixed-camera footage with people and vehicles
  moving through (truth: static camera). ``cityCC0.mpg`` contributes only its second shot
  (from frame 116): in its first shot the camera itself moves slowly (a steady zoom out of
  about 0.03 per second, measured by both fits), so it is not fixed-camera truth.
- *virtual moves*: the same windows seen through a crop window (60 % of the frame, or
  shrinking/growing between 90 % and about 40 %) that moves at a known speed: pan left/right
  and tilt up/down at 0.08 to 0.2 crop widths (heights) per second, zoom in/out at 0.1 to
  0.25 per second (truth: that direction). The crop is resampled to the motion sample's
  size (short side 128 px) at 4 fps, as the extract stage makes it.

``--portrait`` takes every clip from a centred 9:16 window of its source (full height),
as phone footage held upright; the moves are then in that window's widths and heights.
``--bars letterbox`` (``pillarbox``) puts every clip, static or moving, between black
bars of a quarter of its height above and below (a fifth of its width either side), as a
film on a 16:9 screen or 4:3 footage on one; the truth is unchanged.

Splits: ``tuning`` (the fit's thresholds were chosen on it) is the first 69 s of
``one-by-one-person-detection.mp4``, the first 15 s of ``car-detection.mp4`` and the first
ten ``asl/*.mkv`` in name order; ``test`` is the rest of those two files, the second shot
of ``cityCC0.mpg`` and the last ten ``asl/*.mkv``.

For each clip the score stage's motion track (:func:`curate.score.motion_track`) is made
with the robust fit (``ransac``, :mod:`curate.camfit`) and with the previous
least-squares fit (``least_squares``) in the same run, and labelled by
:func:`curate.camera.camera_segments` with default thresholds. A static clip is right
when every segment is ``static``; a virtual move when the label covering most of the
clip is the true direction. Prints accuracies, the labels given, and the motion-track
time per clip for both fits. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from curate.camera import camera_segments  # noqa: E402
from curate.codec import iter_frames, probe  # noqa: E402
from curate.score import motion_track  # noqa: E402

FPS = 4.0
SHORT = 128
WORK = 360  # short side the crops are taken from
FITS = ("ransac", "least_squares")
MOVES = ("pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out")


def splits(footage: str) -> dict[str, list[tuple[str, float, float | None]]]:
    """``(file, start_s, end_s)`` parts of the tuning and test splits (module docstring)."""
    asl = sorted(f"asl/{n}" for n in os.listdir(os.path.join(footage, "asl")) if n.endswith(".mkv"))
    return {"tuning": [("one-by-one-person-detection.mp4", 0.0, 69.0), ("car-detection.mp4", 0.0, 15.0)]
            + [(a, 0.0, None) for a in asl[:10]],
            "test": [("one-by-one-person-detection.mp4", 69.0, None), ("car-detection.mp4", 15.0, None),
                     ("cityCC0.mpg", 116 / 25, None)] + [(a, 0.0, None) for a in asl[10:]]}


def load(path: str, portrait: bool = False) -> tuple[list[np.ndarray], list[float]]:
    """Luma frames of ``path`` at about 4 fps, short side ``WORK``, and their times (s);
    with ``portrait``, a centred 9:16 window of each (full height), as phone footage."""
    src = probe(path)
    s = WORK / min(src.width, src.height)
    size = (round(src.width * s / 2) * 2, round(src.height * s / 2) * 2)
    step = max(1, int(round(src.fps / FPS)))
    frames, times = [], []
    for k, f in enumerate(iter_frames(path, size=size, fmt="gray", rotation=src.rotation)):
        if k % step == 0:
            img = f.image
            if portrait and img.shape[1] > img.shape[0] * 9 // 16:
                pw = img.shape[0] * 9 // 16 // 2 * 2
                x = (img.shape[1] - pw) // 2
                img = img[:, x:x + pw]
            frames.append(np.ascontiguousarray(img))
            times.append(f.t_s)
    return frames, times


def windows(times: list[float], lo: float, hi: float | None, clip_s: float) -> list[list[int]]:
    """Frame indices of consecutive ``clip_s`` windows inside ``[lo, hi)`` (a last part >= half kept)."""
    idx = [i for i, t in enumerate(times) if t >= lo and (hi is None or t < hi)]
    n = int(round(clip_s * FPS)) + 1
    out = [idx[i:i + n] for i in range(0, len(idx), n - 1)]
    return [w for w in out if len(w) >= max(3, n // 2)]


def crop(img: np.ndarray, cx: float, cy: float, frac: float) -> np.ndarray:
    """A window of ``frac`` of the frame centred at ``(cx, cy)`` (pixels), resized to short side SHORT."""
    h, w = img.shape
    out_w, out_h = (round(SHORT * w / h), SHORT) if w >= h else (SHORT, round(SHORT * h / w))
    scale = frac * w / out_w  # source pixels per output pixel
    src = cv2.GaussianBlur(img, (0, 0), max(0.1, 0.5 * scale)) if scale > 1 else img
    m = np.array([[scale, 0, cx - scale * (out_w - 1) / 2], [0, scale, cy - scale * (out_h - 1) / 2]])
    return cv2.warpAffine(src, m, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def virtual(frames: list[np.ndarray], times: list[float], move: str, speed: float) -> list[np.ndarray]:
    """The frames seen by a virtual camera doing ``move`` at ``speed`` (per second, see module docstring)."""
    h, w = frames[0].shape
    t0, dur = times[0], times[-1] - times[0]
    out = []
    for img, t in zip(frames, times):
        u = t - t0
        frac, cx, cy = 0.6, w / 2, h / 2
        if move.startswith("pan"):
            d = speed * frac * w * (u - dur / 2)
            cx += d if move == "pan_right" else -d
        elif move.startswith("tilt"):
            d = speed * frac * h * (u - dur / 2)
            cy += d if move == "tilt_down" else -d
        else:
            frac = 0.9 * np.exp(-speed * u) if move == "zoom_in" else 0.9 * np.exp(-speed * (dur - u))
        out.append(crop(img, cx, cy, frac))
    return out


def label_of(frames: list[np.ndarray], times: list[float], fit: str) -> tuple[list[str], str, float]:
    """Segment labels, the label covering most of the clip, and the motion-track seconds."""
    t = [x - times[0] for x in times]
    start = time.perf_counter()
    track, _ = motion_track(np.stack(frames), t, "dis", fit)
    spent = time.perf_counter() - start
    segs = camera_segments(track, t[-1] + 1 / FPS)
    cover = collections.Counter()
    for s in segs:
        cover[s.camera] += s.end_s - s.start_s
    return [s.camera for s in segs], cover.most_common(1)[0][0], spent


def small(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Frames resized to short side SHORT (INTER_AREA, as the extract stage does)."""
    h, w = frames[0].shape
    size = (round(SHORT * w / h), SHORT) if w >= h else (SHORT, round(SHORT * h / w))
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]


def barred(frames: list[np.ndarray], bars: str | None, level: int = 12) -> list[np.ndarray]:
    """``frames`` between flat bars of luma ``level`` (``--bars``; as they are for None)."""
    if bars is None:
        return frames
    h, w = frames[0].shape
    rows, cols = (h // 4, 0) if bars == "letterbox" else (0, w // 5)
    return [cv2.copyMakeBorder(f, rows, rows, cols, cols, cv2.BORDER_CONSTANT, value=level) for f in frames]


def run_split(footage: str, parts: list[tuple[str, float, float | None]], clip_s: float, seed: int,
              portrait: bool = False, bars: str | None = None) -> dict:
    """Every clip of one split through both fits: counts, labels and times."""
    rng = np.random.default_rng(seed)
    res = {f: {"static_ok": 0, "static_n": 0, "move_ok": 0, "move_n": 0, "secs": 0.0, "clips": 0,
               "static_labels": collections.Counter(), "move_wrong": collections.Counter(),
               "by_file": collections.defaultdict(lambda: [0, 0, 0, 0])} for f in FITS}
    for name, lo, hi in parts:
        frames, times = load(os.path.join(footage, name), portrait)
        for win in windows(times, lo, hi, clip_s):
            fr, ts = [frames[i] for i in win], [times[i] for i in win]
            cases = [("static", small(fr))]
            for move in MOVES:
                speed = rng.uniform(0.1, 0.25) if move.startswith("zoom") else rng.uniform(0.08, 0.2)
                cases.append((move, virtual(fr, ts, move, speed)))
            cases = [(truth, barred(clip, bars)) for truth, clip in cases]
            for fit in FITS:
                r = res[fit]
                for truth, clip in cases:
                    labels, main, spent = label_of(clip, ts, fit)
                    r["secs"] += spent
                    r["clips"] += 1
                    key = name.split("/")[0]
                    if truth == "static":
                        ok = all(x == "static" for x in labels)
                        r["static_n"] += 1
                        r["static_ok"] += ok
                        r["static_labels"].update(set(labels) - {"static"})
                        r["by_file"][key][0] += ok
                        r["by_file"][key][1] += 1
                    else:
                        r["move_n"] += 1
                        r["move_ok"] += main == truth
                        r["by_file"][key][2] += main == truth
                        r["by_file"][key][3] += 1
                        if main != truth:
                            r["move_wrong"][f"{truth}->{main}"] += 1
    return res


def report(split: str, parts: list[tuple[str, float, float | None]], res: dict) -> None:
    """Print one split's table."""
    names = [f"{n} [{lo:g}, {'end' if hi is None else f'{hi:g}'}) s" for n, lo, hi in parts]
    print(f"\n== {split} split: {', '.join(names)}")
    print("| fit | static clips labelled static | virtual moves, right direction | motion track ms/clip |")
    print("|---|---|---|---|")
    for fit in FITS:
        r = res[fit]
        print(f"| {fit} | {r['static_ok']}/{r['static_n']} ({r['static_ok'] / max(1, r['static_n']):.1%}) "
              f"| {r['move_ok']}/{r['move_n']} ({r['move_ok'] / max(1, r['move_n']):.1%}) "
              f"| {1000 * r['secs'] / max(1, r['clips']):.0f} |")
    for fit in FITS:
        r = res[fit]
        print(f"{fit}: other labels in static clips {dict(r['static_labels'])}; "
              f"wrong moves {dict(r['move_wrong'])}")
        print(f"{fit} by file (static ok/n, moves ok/n): "
              + ", ".join(f"{k} {v[0]}/{v[1]}, {v[2]}/{v[3]}" for k, v in r["by_file"].items()))
    ratio = res["ransac"]["secs"] / max(1e-9, res["least_squares"]["secs"])
    print(f"time ransac / least_squares: {ratio:.2f}")


def seeded_main(doc: str, files: tuple[str, ...], run, kinds: tuple[str, ...], clips: int, clips_help: str) -> None:
    """The command line of the seeded synthetic camera benches (``camera_flat``,
    ``camera_large``): ``--footage``, ``--split tuning|test|both`` (seeds 0-1 and 2-3) and
    ``--clips``; loads ``files`` from the footage, calls ``run(sources, seeds, clips)`` (a
    Counter of ``(kind, "ok")`` and ``(kind, "n")``) and prints each of ``kinds``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--footage", default=os.path.join(ROOT, "..", "shared", "footage"))
    ap.add_argument("--split", choices=["tuning", "test", "both"], default="both")
    ap.add_argument("--clips", type=int, default=clips, help=clips_help)
    args = ap.parse_args()
    sources = {name: load(os.path.join(args.footage, name))[0] for name in files}
    seeds = {"tuning": (0, 1), "test": (2, 3)}
    for split in (["tuning", "test"] if args.split == "both" else [args.split]):
        res = run(sources, seeds[split], args.clips)
        print(f"{split} (seeds {seeds[split]}): " + ", ".join(
            f"{k} {res[k, 'ok']}/{res[k, 'n']}" for k in kinds), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--footage", default=os.path.join(ROOT, "..", "shared", "footage"))
    ap.add_argument("--split", choices=["test", "tuning", "both"], default="test")
    ap.add_argument("--clip-s", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--portrait", action="store_true",
                    help="every clip a centred 9:16 window of its source (phone footage held upright)")
    ap.add_argument("--bars", choices=["letterbox", "pillarbox"],
                    help="every clip between black bars (module docstring)")
    args = ap.parse_args()
    sets = splits(args.footage)
    for split in (["tuning", "test"] if args.split == "both" else [args.split]):
        report(split, sets[split], run_split(args.footage, sets[split], args.clip_s, args.seed, args.portrait,
                                             args.bars))


if __name__ == "__main__":
    main()
