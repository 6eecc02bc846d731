"""Transitions by kind, and fast pans, through the split stage's shot detector, one run.

    python bench/transition_kinds.py [--footage ../shared/footage] [--seed 3] [--per-kind 4]
        [--kinds slideleft,coverup,...] [--pans 80]

Needs an ``ffmpeg`` with the ``xfade`` filter (``imageio-ffmpeg``, the bench extra, or one
on PATH). Builds, in a temporary folder:

- for each kind (FFmpeg's ``xfade`` transition names; default: slides, covers, reveals,
  wipes, and a few dissolves, fades and soft wipes beside them) ``--per-kind`` videos of
  one transition between two shots of the footage's long files (320x180, 25 fps, x264 crf
  20): 3 s of shot A, then the transition (0.5, 0.8, 1.0 or 1.5 s), then shot B, the
  shots' start times drawn from ``--seed``;
- ``--pans`` single shots: a crop window (30-55 % of the frame) moving over the footage at
  0.3-2.5 crop widths per second, left/right or up/down, a third with motion blur, from
  the second second on until it reaches the frame's edge (the pan starts and stops at
  once, as a slide's picture does).

Each video goes through :class:`curate.split.shots.ShotDetector` (``SplitStage()``'s
defaults) on 256x144 frames. A transition ``[s, e)`` is found when a cut or gap lies within
2 frames of it; its frames outside every gap would go to the clips either side. Prints per
kind: found, transition frames left in clips, boundaries elsewhere (false); for the pans:
how many got a boundary, and the total. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict

import av
import cv2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from curate.split import SplitStage  # noqa: E402

FPS, TOL = 25, 2
KINDS = ("slideleft,slideright,slideup,slidedown,coverleft,coverright,coverup,coverdown,revealleft,"
         "revealright,revealup,revealdown,wipeleft,wiperight,wipeup,wipedown,fade,dissolve,fadeblack,"
         "circleopen,smoothleft,hblur")
LONG = {"bottle-detection.mp4": (2, 8, 14, 20, 26, 32), "car-detection.mp4": (1, 5, 10, 15, 20, 25),
        "one-by-one-person-detection.mp4": (5, 20, 40, 60, 80, 100, 120)}


def ffmpeg() -> str:
    """An ffmpeg binary: imageio-ffmpeg's, else the one on PATH. Raises SystemExit without one."""
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except ImportError:
        found = shutil.which("ffmpeg")
        if not found:
            raise SystemExit("no ffmpeg: pip install 'imageio-ffmpeg>=0.5' (the bench extra)") from None
        return found


def transition(ff: str, footage: str, kind: str, rng: random.Random, path: str) -> tuple[int, int]:
    """One ``kind`` transition between two shots of different files into ``path``; its frames."""
    starts = [(name, t) for name, ts in LONG.items() for t in ts]
    a, b = rng.sample(starts, 2)
    while a[0] == b[0]:
        a, b = rng.sample(starts, 2)
    d = rng.choice([0.5, 0.8, 1.0, 1.5])
    scale = f"setpts=PTS-STARTPTS,fps={FPS},scale=320:180,setsar=1,format=yuv420p"
    graph = (f"[0:v]trim=start={a[1]}:duration={3 + d + 0.2},{scale}[a];[1:v]trim=start={b[1]}:duration=4,{scale}[b];"
             f"[a][b]xfade=transition={kind}:duration={d}:offset=3[v]")
    subprocess.run([ff, "-y", "-loglevel", "error", "-i", os.path.join(footage, a[0]), "-i", os.path.join(footage, b[0]),
                    "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-crf", "20", "-g", "50", path], check=True)
    return 3 * FPS, 3 * FPS + int(round(d * FPS))


def pan(footage: str, rng: random.Random, path: str) -> None:
    """A virtual pan or tilt over a stretch of the footage into ``path`` (module docstring)."""
    name = rng.choice(sorted(LONG))
    con = av.open(os.path.join(footage, name))
    stream = con.streams.video[0]
    rate, start = float(stream.average_rate), rng.uniform(0, 20)
    n = int(rng.uniform(3, 5) * FPS)
    frames = [f.to_ndarray(format="bgr24") for f in con.decode(stream) if f.time >= start][:int(n * rate / FPS) + 2]
    con.close()
    frames = [frames[min(len(frames) - 1, int(k * rate / FPS))] for k in range(n)]
    h, w = frames[0].shape[:2]
    share, axis, speed = rng.uniform(0.3, 0.55), rng.choice("xxy"), rng.choice([0.3, 0.6, 1.0, 1.5, 2.5])
    blur, sign = rng.random() < 0.3, rng.choice([-1, 1])
    cw, ch = int(w * share), int(h * share)
    travel = (w - cw) if axis == "x" else (h - ch)
    pos = prev = travel if sign < 0 else 0
    out = av.open(path, "w")
    st = out.add_stream("libx264", rate=FPS)
    st.width, st.height, st.pix_fmt, st.options = 320, 180, "yuv420p", {"crf": "20"}
    for k, f in enumerate(frames):
        if k >= FPS:
            pos = min(travel, max(0, pos + sign * speed * (cw if axis == "x" else ch) / FPS))
        x0, y0 = (int(pos), (h - ch) // 2) if axis == "x" else ((w - cw) // 2, int(pos))
        crop = f[y0:y0 + ch, x0:x0 + cw]
        if blur and abs(pos - prev) > 2:
            k_len = max(1, int(abs(pos - prev) * 320 / cw))
            crop = cv2.blur(crop, (k_len, 1) if axis == "x" else (1, k_len))
        prev = pos
        frame = av.VideoFrame.from_ndarray(cv2.resize(crop, (320, 180), interpolation=cv2.INTER_AREA), format="bgr24")
        out.mux(st.encode(frame))
    out.mux(st.encode())
    out.close()


def detect(path: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Cuts and gaps of the split stage's shot detector over ``path`` at 256x144."""
    con = av.open(path)
    det = SplitStage().shot_detector(float(con.streams.video[0].average_rate or FPS))
    for f in con.decode(video=0):
        det.feed(cv2.resize(f.to_ndarray(format="bgr24"), (256, 144), interpolation=cv2.INTER_AREA))
    con.close()
    b = det.boundaries()
    return list(b.cuts), list(b.gaps)


def score(span: tuple[int, int], cuts: list[int], gaps: list[tuple[int, int]]) -> tuple[bool, int, int]:
    """(found, transition frames in no gap, boundaries elsewhere) of one transition ``[s, e)``."""
    s, e = span
    near = [c for c in cuts if s - TOL <= c <= e + TOL] + [g for g in gaps if g[1] > s - TOL and g[0] < e + TOL]
    covered = {f for g in gaps for f in range(*g)}
    return bool(near), sum(f not in covered for f in range(s, e)), len(cuts) + len(gaps) - len(near)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--footage", default=os.path.join(ROOT, "..", "shared", "footage"))
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--per-kind", type=int, default=4)
    ap.add_argument("--kinds", default=KINDS)
    ap.add_argument("--pans", type=int, default=80)
    args = ap.parse_args()
    ff, rng = ffmpeg(), random.Random(args.seed)
    rows: dict[str, Counter] = defaultdict(Counter)
    with tempfile.TemporaryDirectory(prefix="transition-kinds-") as tmp:
        for kind in args.kinds.split(","):
            for i in range(args.per_kind):
                path = os.path.join(tmp, f"{kind}{i}.mp4")
                span = transition(ff, args.footage, kind, rng, path)
                found, left, false = score(span, *detect(path))
                rows[kind].update(n=1, found=found, left=left, false=false)
        panned = total = 0
        for i in range(args.pans):
            path = os.path.join(tmp, f"pan{i}.mp4")
            pan(args.footage, rng, path)
            cuts, gaps = detect(path)
            panned += bool(cuts or gaps)
            total += len(cuts) + len(gaps)
    print(f"seed {args.seed}: kind, found / videos, transition frames left in clips, false boundaries")
    for kind, c in rows.items():
        print(f"  {kind:12s} {c['found']}/{c['n']}  {c['left']:4d}  {c['false']}")
    all_ = sum(rows.values(), Counter())
    print(f"  {'all':12s} {all_['found']}/{all_['n']}  {all_['left']:4d}  {all_['false']}")
    print(f"pans and tilts: {panned} of {args.pans} with a boundary, {total} boundaries")


if __name__ == "__main__":
    main()
