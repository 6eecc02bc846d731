"""Keep-or-drop decisions of the score and filter stages on edited real footage, with truth.

    python bench/filter_accuracy.py [--footage ../shared/footage] [--max-clips 40]

Clips are 2 s windows of ``../shared/footage`` (every file, windows 4 s apart; the same
windows as ``bench/filters.py``), each as the extract stage samples it: a frame sample
(8 RGB frames, short side 224) and a motion sample (luma at 4 fps, short side 128). Every
window is edited in the ways below, each edit applied alike to both samples, and the
two samples go through :class:`curate.score.ScoreStage` and the filter stage of
``pipelines/local.yaml`` (its thresholds as shipped). Truth by edit:

- kept (real footage a user wants): ``as is``; ``letterbox`` (a 2.39:1 picture in a 16:9
  frame, black bars above and below); ``pillarbox`` (a 4:3 picture in a 16:9 frame);
  ``night`` (levels scaled to a mean luma of 30, a dim but lit scene) and ``night
  letterbox``; ``dark night`` (scaled to a mean of 15: under the score stage's
  ``black_luma`` 20, over the filter's ``min_luma`` 10, its lit parts over 20);
- dropped: ``still + grain`` (the window's first frame held for the whole clip, with
  Gaussian grain of 3 levels that changes every frame: a still held as video);
  ``blurred`` (Gaussian blur of 3 px at the frame sample's size, 1.7 px at the motion
  sample's: out of focus) and ``blurred letterbox``, ``blurred pillarbox``; ``still +
  grain letterbox``.

Prints, per edit, the decisions that match the truth and the reasons given, then the
share right over kept and over dropped clips. Not a test: nothing is asserted.
Samples are made from decoded frames, not from an encoded clip, so codec noise is not in
them (grain is, as it is).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from filters import windows  # noqa: E402

from curate.score import ScoreStage  # noqa: E402
from curate.stage import RejectError  # noqa: E402
from curate.tasks import ClipTask  # noqa: E402
from pipelines import load_pipeline  # noqa: E402
from schemas import ClipRecord, ClipVideo, SourceInfo, Span  # noqa: E402

KEEP = ("as is", "letterbox", "pillarbox", "night", "night letterbox", "dark night")
DROP = ("still + grain", "blurred", "blurred letterbox", "blurred pillarbox", "still + grain letterbox")


def boxed(img: np.ndarray, aspect: float) -> np.ndarray:
    """``img`` centre-cropped to ``aspect`` (width / height) and padded with black to 16:9."""
    h, w = img.shape[:2]
    if aspect > w / h:  # wider picture: fewer rows, bars above and below
        ph = int(round(w / aspect))
        pic = img[(h - ph) // 2:(h - ph) // 2 + ph]
        total = int(round(w * 9 / 16))
        top = (total - ph) // 2
        return cv2.copyMakeBorder(pic, top, total - ph - top, 0, 0, cv2.BORDER_CONSTANT, value=0)
    pw = int(round(h * aspect))
    pic = img[:, (w - pw) // 2:(w - pw) // 2 + pw]
    total = int(round(h * 16 / 9))
    left = (total - pw) // 2
    return cv2.copyMakeBorder(pic, 0, 0, left, total - pw - left, cv2.BORDER_CONSTANT, value=0)


def edited(frames: np.ndarray, edit: str, blur_px: float, seed: int) -> np.ndarray:
    """``(T, H, W[, 3]) uint8`` ``frames`` under ``edit`` (module docstring)."""
    rng = np.random.default_rng(seed)
    out = []
    for k, f in enumerate(frames):
        g = frames[0] if edit.startswith("still") else f
        if edit.startswith("still"):
            g = np.clip(g.astype(np.float32) + rng.normal(0, 3.0, g.shape[:2] + (1,) * (g.ndim - 2)), 0, 255)
        if edit.startswith("blurred"):
            g = cv2.GaussianBlur(g, (0, 0), blur_px)
        if edit.startswith("night"):
            g = g.astype(np.float32) * (30.0 / max(float(frames.mean()), 1.0))
        if edit == "dark night":
            g = g.astype(np.float32) * (15.0 / max(float(frames.mean()), 1.0))
        g = np.clip(g, 0, 255).astype(np.uint8)
        if edit.endswith("letterbox"):
            g = boxed(g, 2.39)
        elif edit.endswith("pillarbox"):
            g = boxed(g, 4 / 3)
        out.append(g)
    return np.stack(out)


def decide(sample: np.ndarray, motion: np.ndarray, flt) -> str:
    """``kept`` or the filter's reject reason for one clip's samples."""
    h, w = sample.shape[1:3]
    src = SourceInfo(path="w.mp4", source_id="s", size_bytes=1, duration_s=2.0, fps=25, num_frames=50,
                     width=w, height=h, codec="h264")
    span = Span(shot_index=0, start_frame=0, end_frame=50, start_s=0.0, end_s=2.0)
    rec = ClipRecord(clip_id="c", source=src, span=span,
                     clip=ClipVideo(num_frames=50, fps=25, width=w, height=h, duration_s=2.0))
    task = ClipTask(source=rec.source, span=rec.span, clip_id="c", work_dir="", record=rec, frames=sample,
                    motion=motion, motion_times=[k * 0.25 for k in range(len(motion))])
    try:
        flt.process(ScoreStage().process(task))
    except RejectError as err:
        return err.reason
    return "kept"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--footage", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "footage"))
    ap.add_argument("--max-clips", type=int, default=40)
    args = ap.parse_args()
    flt = load_pipeline("local").stage("filter")
    clips = windows(os.path.abspath(args.footage), args.max_clips)
    print(f"{len(clips)} windows of real footage; filter of pipelines/local.yaml\n")
    print("| edit | truth | right | decisions |\n|---|---|---|---|")
    right = {"kept": [0, 0], "dropped": [0, 0]}
    for edit in KEEP + DROP:
        truth = "kept" if edit in KEEP else "dropped"
        got = collections.Counter()
        for i, (sample, motion) in enumerate(clips):
            got[decide(edited(sample, edit, 3.0, i), edited(motion, edit, 3.0 * 128 / 224, i), flt)] += 1
        ok = got["kept"] if truth == "kept" else sum(v for k, v in got.items() if k != "kept")
        right[truth][0] += ok
        right[truth][1] += len(clips)
        print(f"| {edit} | {truth} | {ok}/{len(clips)} | {dict(got.most_common())} |", flush=True)
    for truth, (ok, n) in right.items():
        print(f"{truth}: {ok}/{n} right ({ok / max(n, 1):.1%})")


if __name__ == "__main__":
    main()
