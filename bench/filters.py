"""Quality filters on real footage: clips/s per scorer on CPU and the scores they give.

Clips are 2 s windows of ``../shared/footage`` (every file, windows 4 s apart); each
becomes a frame sample like the extract stage's (8 RGB frames, short side 224) and a
motion sample (luma at 4 fps, short side 128). Timed in one process, one CPU thread
per model, against the old per-clip pHash (``clip_phash``) as the baseline measured in
the same run (``x pHash``: time per clip over the pHash's):

- ``phash``: :func:`curate.phash.clip_phash` on 4 frames (the baseline);
- ``embed``: the embed stage now (bars cut, pHash, edit-robust signature);
- ``verify``: one signature distance (:func:`curate.dedup.verify.distance`) per clip;
- ``text``: PP-OCR text detection on 4 frames at short side 480 (needs
  ``pip install --no-deps rapidocr-onnxruntime``; skipped without), every box counted;
- ``text+rd``: the same with each box read by PP-OCR's recognition model, only boxes read
  as text counted (the quality stage's default, ``text_read``);
- ``nsfw``: NudeNet's detector on 4 frames, batched per clip.

The scores (text area share, NSFW score) are printed as quantiles over the clips: this
footage has no subtitles, burnt-in text or nudity, so both should stay near 0.
The dedup precision/recall table is ``bench/dedup_accuracy.py``. Usage::

    python bench/filters.py [--footage ../shared/footage] [--max-clips 40]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from curate.codec import iter_frames  # noqa: E402
from curate.dedup.signature import decode  # noqa: E402
from curate.dedup.verify import distance  # noqa: E402
from curate.embed import EmbedStage  # noqa: E402
from curate.extract import _small  # noqa: E402
from curate.phash import clip_phash  # noqa: E402
from curate.tasks import ClipTask  # noqa: E402


def windows(footage: str, max_clips: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frame sample, motion sample) of 2 s windows, 4 s apart, of every footage file."""
    files = [os.path.join(footage, f) for f in sorted(os.listdir(footage)) if f.endswith((".mp4", ".mpg"))]
    asl = os.path.join(footage, "asl")
    files += [os.path.join(asl, f) for f in sorted(os.listdir(asl))] if os.path.isdir(asl) else []
    out = []
    for path in files:
        frames, times = [], []
        for d in iter_frames(path):
            frames.append(_small(d.image, 224))
            times.append(d.t_s)
        times = np.array(times)
        for start in np.arange(0.0, max(times[-1] - 2.0, 0.0) + 1e-6, 4.0):
            idx = np.flatnonzero((times >= start) & (times < start + 2.0))
            if len(idx) < 8:
                continue
            sample = np.stack([frames[i] for i in idx[np.linspace(0, len(idx) - 1, 8).round().astype(int)]])
            grid = start + np.arange(0, 2.0, 0.25)
            motion = np.stack([_small(frames[idx[np.argmin(np.abs(times[idx] - t))]], 128, gray=True) for t in grid])
            out.append((sample, motion))
            if len(out) >= max_clips:
                return out
    return out


def _embed(sample, motion):
    task = ClipTask(source=None, span=None, clip_id="x", work_dir="")

    class _Rec:
        phash = ""
        dedup_signature = ""

    task.record, task.frames, task.motion = _Rec(), sample, motion
    task.motion_times = [k * 0.25 for k in range(len(motion))]
    EmbedStage().process(task)
    return task.record


def timed(name, fn, clips, base=None):
    fn(clips[0])  # warm-up (model sessions, caches)
    t = time.perf_counter()
    values = [fn(c) for c in clips]
    per = (time.perf_counter() - t) / len(clips)
    ratio = f"{per / base:8.1f}" if base else f"{1.0:8.1f}"
    print(f"{name:8} {1 / per:10.1f} {1000 * per:9.2f} {ratio}")
    return per, values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--footage", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "footage"))
    ap.add_argument("--max-clips", type=int, default=40)
    args = ap.parse_args()
    clips = windows(os.path.abspath(args.footage), args.max_clips)
    print(f"{len(clips)} clips of real footage, 1 CPU thread per model\n")
    print(f"{'scorer':8} {'clips/s':>10} {'ms/clip':>9} {'x pHash':>8}")
    base, _ = timed("phash", lambda c: clip_phash(c[0], 4), clips)
    _, recs = timed("embed", lambda c: _embed(*c), clips, base)
    sigs = [decode(r.dedup_signature) for r in recs]
    pairs = list(zip(sigs, sigs[1:] + sigs[:1]))
    index = {id(c): i for i, c in enumerate(clips)}
    timed("verify", lambda c: distance(*pairs[index[id(c)]]), clips, base)
    scores = {}
    if importlib.util.find_spec("rapidocr_onnxruntime"):
        from curate.quality.text import TextDetector
        from curate.quality.textread import TextReader

        det, reading = TextDetector(), TextDetector(reader=TextReader())
        _, v = timed("text", lambda c: det.area(c[0][::2]).mean(), clips, base)
        scores["text area"] = v
        _, v = timed("text+rd", lambda c: reading.area(c[0][::2]).mean(), clips, base)
        scores["text area, read"] = v
    else:
        print("text     skipped: pip install --no-deps rapidocr-onnxruntime")
    from curate.quality.nsfw import NsfwDetector

    nsfw = NsfwDetector()
    _, v = timed("nsfw", lambda c: nsfw.scores(c[0][::2]).max(), clips, base)
    scores["nsfw"] = v
    print()
    for name, v in scores.items():
        q = np.quantile(v, [0.0, 0.5, 0.9, 1.0])
        print(f"{name:16} min {q[0]:.4f}  median {q[1]:.4f}  p90 {q[2]:.4f}  max {q[3]:.4f}")


if __name__ == "__main__":
    main()
