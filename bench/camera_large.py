"""Camera labels where something large holds part of the picture: objects passing a fixed camera, graphics over pans.

    python bench/camera_large.py [--footage ../shared/footage] [--split tuning|test|both] [--clips 20]

A moving model and the fixed camera each explain a large part of the picture in both
kinds below; which one is the camera is what :func:`curate.camrules.still_band` and,
over the clip's steps, :func:`curate.passing.passing_steps` decide. Made from real footage at the motion sample's
size (228 x 128, 4 fps, 13 frames):

- *large object* (truth: static): a patch of another frame of the footage (``cityCC0``
  included), 20-60 % of the frame's area and 0.5-2.5 times the frame's aspect, crosses a
  fixed camera's view (``car-detection``, ``bottle-detection``,
  ``one-by-one-person-detection``, their own content playing) at 0.05-0.45 frame widths
  per second, drifting up or down by up to a fifth of that: a bus, a truck, someone
  close to the lens.
- *pan under graphics* (truth: the pan's direction): a window of 60 % of the footage
  panning at 0.08-0.3 window widths per second (as ``bench/camera_accuracy.py`` makes its
  moves) under a still patch of another frame: a bar along the bottom 15-35 % of the
  rows (a lower third, a dashboard), a panel along one side 15-35 % wide, both (an
  L-shaped news bar), or a subject held still in the frame by the camera (25-50 % wide,
  40-75 % high, standing on the bottom edge: a tracking shot); or a graphic that comes on
  during the pan: a side panel 15-35 % wide cut on at a random frame of the middle half,
  on either side, or a bar over the bottom 15-35 % sliding in from one side at 0.5-3 times
  the pan's speed (the steps around such changes once read as an object passing).
- *crowd* (truth: static): 4-9 upright patches of other frames of the footage (people,
  35-75 % of the frame's height and 0.3-0.5 as wide as high, their feet on the bottom
  quarter of the rows) walking the same way across a fixed camera's view at one pace,
  0.08-0.3 frame widths per second, each within 30 % of it: a crowd crossing a street or
  a platform close to the camera. Drawn from a generator of its own (seed, 2), so the
  kinds above keep their clips.

A clip is right when every segment of :func:`curate.camera.camera_segments` is ``static``
(objects, crowds), or when the label covering most of it is the pan. Splits: ``tuning`` draws
with seeds 0 and 1, ``test`` with seeds 2 and 3. Not a test: nothing is asserted.
"""

from __future__ import annotations

import collections
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from camera_accuracy import FPS, crop, label_of, seeded_main  # noqa: E402

W, H, N = 228, 128, 13
FIXED = ("car-detection.mp4", "bottle-detection.mp4", "one-by-one-person-detection.mp4")
TEXTURES = FIXED + ("cityCC0.mpg",)
GRAPHICS = ("lower bar", "side panel", "L-bar", "tracked subject")
COMING = ("panel cut on", "bar slides in")  # drawn from a second generator: the kinds above keep their clips
CROWD = "crowd"  # a third generator


def texture(rng: np.random.Generator, sources: dict, w: int, h: int) -> np.ndarray:
    """``(h, w) uint8``: a random 40-100 % window of a random frame of the footage, resized."""
    frames = sources[rng.choice(TEXTURES)]
    img = frames[int(rng.integers(0, len(frames)))]
    s = rng.uniform(0.4, 1.0)
    ch, cw = int(img.shape[0] * s), int(img.shape[1] * s)
    y, x = int(rng.integers(0, img.shape[0] - ch + 1)), int(rng.integers(0, img.shape[1] - cw + 1))
    return cv2.resize(img[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_AREA)


def _window(rng: np.random.Generator, sources: dict) -> list[np.ndarray]:
    frames = sources[rng.choice(FIXED)]
    k0 = int(rng.integers(0, len(frames) - N))
    return [cv2.resize(f, (W, H), interpolation=cv2.INTER_AREA) for f in frames[k0:k0 + N]]


def large_object(rng: np.random.Generator, sources: dict) -> list[np.ndarray]:
    """A large object crossing a fixed camera's view (module docstring)."""
    area, aspect = rng.uniform(0.2, 0.6), rng.uniform(0.5, 2.5)
    ow = int(min(W * 0.95, np.sqrt(area * W * H * aspect * W / H)))
    oh = int(min(H * 0.95, area * W * H / ow))
    vx = rng.uniform(0.05, 0.45) * W / FPS * rng.choice([-1, 1])  # pixels per frame
    vy = rng.uniform(-0.2, 0.2) * abs(vx)
    tex = texture(rng, sources, ow, oh)
    y0, x0 = rng.uniform(0, H - oh), rng.uniform(-ow * 0.5, W - ow * 0.5) - vx * N / 2
    out = []
    for k, f in enumerate(_window(rng, sources)):
        x, y = int(round(x0 + vx * k)), int(round(y0 + vy * k))
        xa, xb, ya, yb = max(0, x), min(W, x + ow), max(0, y), min(H, y + oh)
        if xb > xa and yb > ya:
            f[ya:yb, xa:xb] = tex[ya - y:yb - y, xa - x:xb - x]
        out.append(f)
    return out


def crowd(rng: np.random.Generator, sources: dict) -> list[np.ndarray]:
    """A crowd walking one way across a fixed camera's view (module docstring)."""
    pace = rng.uniform(0.08, 0.3) * W / FPS * rng.choice([-1, 1])  # pixels per frame
    people = []
    for _ in range(int(rng.integers(4, 10))):
        oh = int(H * rng.uniform(0.35, 0.75))
        ow = max(6, int(oh * rng.uniform(0.3, 0.5)))
        v = pace * rng.uniform(0.7, 1.3)
        feet = int(H * rng.uniform(0.75, 1.0))
        people.append((texture(rng, sources, ow, oh), rng.uniform(-ow, W) - v * N / 2, v, max(0, feet - oh)))
    out = []
    for k, f in enumerate(_window(rng, sources)):
        for tex, x0, v, y in people:
            oh, ow = tex.shape
            x = int(round(x0 + v * k))
            xa, xb, yb = max(0, x), min(W, x + ow), min(H, y + oh)
            if xb > xa:
                f[y:yb, xa:xb] = tex[:yb - y, xa - x:xb - x]
        out.append(f)
    return out


def pan_under(rng: np.random.Generator, sources: dict, kind: str) -> tuple[list[np.ndarray], str]:
    """A pan under a still graphic or tracked subject ``kind`` (module docstring), and its label."""
    frames = sources[rng.choice(TEXTURES)]
    k0 = int(rng.integers(0, len(frames) - N))
    speed, direction = rng.uniform(0.08, 0.3), rng.choice([-1, 1])
    h, w = frames[0].shape
    out = []
    for k in range(N):
        d = speed * 0.6 * w * (k / FPS - (N - 1) / FPS / 2) * direction
        out.append(cv2.resize(crop(frames[k0 + k], w / 2 + d, h / 2, 0.6), (W, H), interpolation=cv2.INTER_AREA))
    bar, side = int(H * rng.uniform(0.15, 0.35)), int(W * rng.uniform(0.15, 0.35))
    if kind in ("lower bar", "L-bar"):
        tex = texture(rng, sources, W, bar)
        for f in out:
            f[H - bar:] = tex
    if kind in ("side panel", "L-bar"):
        tex, left = texture(rng, sources, side, H), rng.random() < 0.5
        x0 = 0 if left else W - side
        for f in out:
            f[:, x0:x0 + side] = tex
    if kind == "panel cut on":
        tex, left, k0 = texture(rng, sources, side, H), rng.random() < 0.5, int(rng.integers(N // 4, 3 * N // 4))
        x0 = 0 if left else W - side
        for f in out[k0:]:
            f[:, x0:x0 + side] = tex
    if kind == "bar slides in":
        tex, step = texture(rng, sources, W, bar), rng.uniform(0.5, 3.0) * speed * W / FPS  # pixels a frame
        from_left, k0 = rng.random() < 0.5, int(rng.integers(0, N // 2))
        for k, f in enumerate(out[k0:]):
            reach = min(W, int(round(step * (k + 1))))
            if from_left:
                f[H - bar:, :reach] = tex[:, W - reach:]
            else:
                f[H - bar:, W - reach:] = tex[:, :reach]
    if kind == "tracked subject":
        ow, oh = int(W * rng.uniform(0.25, 0.5)), int(H * rng.uniform(0.4, 0.75))
        tex, x0 = texture(rng, sources, ow, oh), int(rng.uniform(0, W - ow))
        for f in out:
            f[H - oh:, x0:x0 + ow] = tex
    return out, "pan_right" if direction > 0 else "pan_left"


def run(sources: dict, seeds: tuple[int, ...], clips: int) -> collections.Counter:
    """Counts of right labels per kind over ``clips`` clips of each kind per seed."""
    res, times = collections.Counter(), [k / FPS for k in range(N)]
    for seed in seeds:
        rng, later, crowds = (np.random.default_rng(seed), np.random.default_rng((seed, 1)),
                              np.random.default_rng((seed, 2)))
        for _ in range(clips):
            labels, _, _ = label_of(large_object(rng, sources), times, "ransac")
            res["large object", "n"] += 1
            res["large object", "ok"] += all(x == "static" for x in labels)
            for kind in GRAPHICS:
                frames, truth = pan_under(rng, sources, kind)
                _, main, _ = label_of(frames, times, "ransac")
                res[kind, "n"] += 1
                res[kind, "ok"] += main == truth
            for kind in COMING:
                frames, truth = pan_under(later, sources, kind)
                _, main, _ = label_of(frames, times, "ransac")
                res[kind, "n"] += 1
                res[kind, "ok"] += main == truth
            labels, _, _ = label_of(crowd(crowds, sources), times, "ransac")
            res[CROWD, "n"] += 1
            res[CROWD, "ok"] += all(x == "static" for x in labels)
    return res


def main() -> None:
    seeded_main(__doc__, TEXTURES, run, ("large object",) + GRAPHICS + COMING + (CROWD,), 20, "clips of each kind per seed")


if __name__ == "__main__":
    main()
