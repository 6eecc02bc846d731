"""Edited copies made on purpose for the dedup tests: a rendered fixed-camera scene
(:mod:`support.synth`), its signature and clip record as the embed stage makes them, and
the edits a re-upload applies (crops, bars, gamma, turns, flips)."""

import cv2
import numpy as np

from curate.embed import EmbedStage
from curate.tasks import ClipTask
from curate.dedup.signature import make
from support.dedup import clip_record
from support.synth import render

FPS = 4.0
EDIT_LIMIT = 0.06  # DedupStage's default edit_distance


def clip(t0, dur=3.0, w=256, h=144, seed=7, edit=None):
    """RGB frames of scene ``seed`` (fixed camera, blobs moving) from ``t0`` s, at 4 fps."""
    frames = np.stack([render(seed, t0 + k / FPS, w, h, drift=0.15) for k in range(int(dur * FPS))])
    return edit(frames) if edit else frames


def sig(frames):
    luma = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    return make(luma, [k / FPS for k in range(len(luma))])


def crop_bright(frames, c=0.08, x=9, y=3):
    h, w = frames.shape[1:3]
    out = frames[:, y:y + round(h * (1 - c)), x:x + round(w * (1 - c))].astype(np.int16) + 30
    return np.clip(out, 0, 255).astype(np.uint8)


def letterbox(frames, bar=18):
    return np.pad(frames, ((0, 0), (bar, bar), (0, 0), (0, 0)))


def grey_pillarbox(frames, bar=40, level=128):
    """Grey side bars with a little codec-like noise (+-2 levels), as re-uploads are padded."""
    noise = np.random.default_rng(1).integers(-2, 3, size=frames.shape[:2] + (bar, 3))
    pad = np.clip(level + noise, 0, 255).astype(np.uint8)
    return np.concatenate([pad, frames, pad[:, :, ::-1]], axis=2)


def gamma(frames, g=1.5):
    return (255 * (frames / 255.0) ** g).astype(np.uint8)


def crop_quarter(frames):
    """A quarter of each side's length cut, off centre (the verifier's old reach was ~10 %)."""
    return crop_bright(frames, c=0.25, x=40, y=12)  # and +30 levels


def turned(frames, angle=6.0):
    """Turned ``angle`` degrees and zoomed until no black corner shows, as a tilted re-upload."""
    h, w = frames.shape[1:3]
    r = np.radians(angle)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, np.cos(r) + np.sin(r) * w / h)
    return np.stack([cv2.warpAffine(f, m, (w, h)) for f in frames])


def half(frames):
    return np.stack([cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA) for f in frames])


def hflip(frames):
    return np.ascontiguousarray(frames[:, :, ::-1])


def record(cid, frames, start=0.0, path="a.mp4", size=(640, 360)):
    task = ClipTask(source=None, span=None, clip_id=cid, work_dir="")
    task.record = clip_record(cid, "", *size, path=path, start=start)
    task.frames = frames[np.linspace(0, len(frames) - 1, 8).round().astype(int)]
    task.motion = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    task.motion_times = [k / FPS for k in range(len(frames))]
    return EmbedStage().process(task).record


def wall(direction, n=12, w=256, h=144, side=14):
    """A fixed camera on a static textured wall (scene 3, nothing drifting) with a small dark
    square (``side`` px) crossing its middle, rightwards (``direction`` 1) or leftwards (-1)."""
    still = render(3, 0.0, w, h, drift=0.0)
    out = np.repeat(still[None], n, axis=0)
    for k in range(n):
        x = round(w * (0.5 + direction * (0.2 * (2 * k / (n - 1) - 1)))) - side // 2
        out[k, h // 2 - side // 2:h // 2 + side // 2, x:x + side] = 25
    return out
