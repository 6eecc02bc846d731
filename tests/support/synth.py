"""Synthetic test videos with exact known truth, written with PyAV (libx264).

A *scene* is a resolution-independent picture defined by a seed: coloured Gaussian
blobs over a sum of oriented sinusoidal gratings, evaluated on normalised coordinates,
so the same seed rendered at 320x240 and 480x360 is the same picture at two sizes
(a near-duplicate made on purpose), while different seeds give unrelated pictures.
A *camera* moves over the scene: ``pan`` (scene units per second, +x = camera moves
right), and ``zoom`` (relative scale per second, + = zoom in).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Shot:
    """``frames`` frames of scene ``seed`` seen by a camera with constant ``pan``/``zoom``."""

    seed: int
    frames: int
    pan: tuple[float, float] = (0.0, 0.0)
    zoom: float = 0.0
    drift: float = 0.02  # blob motion (scene units per second) so shots are not frozen


def _params(seed: int):
    rng = np.random.default_rng(seed)
    blobs = [(rng.uniform(0, 1, 2), rng.uniform(0.06, 0.18), rng.uniform(0, 255, 3), rng.uniform(-1, 1, 2))
             for _ in range(5)]
    gratings = [(rng.uniform(4, 14), rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi), rng.uniform(20, 45))
                for _ in range(4)]
    base = rng.uniform(60, 190, 3)
    return blobs, gratings, base


def render(seed: int, t: float, width: int, height: int, pan=(0.0, 0.0), zoom: float = 0.0,
           drift: float = 0.02) -> np.ndarray:
    """Scene ``seed`` at time ``t`` (s) through the camera: ``(height, width, 3) uint8`` RGB."""
    blobs, gratings, base = _params(seed)
    scale = np.exp(-zoom * t)
    x = ((np.arange(width) + 0.5) / width - 0.5) * scale + 0.5 + pan[0] * t
    y = ((np.arange(height) + 0.5) / height - 0.5) * scale + 0.5 + pan[1] * t
    X, Y = np.meshgrid(x, y * height / width)
    img = np.broadcast_to(base, (height, width, 3)).astype(np.float64).copy()
    for freq, angle, phase, amp in gratings:
        img += amp * np.sin(2 * np.pi * freq * (X * np.cos(angle) + Y * np.sin(angle)) + phase)[..., None]
    for centre, sigma, colour, vel in blobs:
        cx, cy = centre + drift * vel * t
        w = np.exp(-((X - cx) ** 2 + (Y - cy * height / width) ** 2) / (2 * sigma ** 2))[..., None]
        img = img * (1 - 0.85 * w) + colour * 0.85 * w
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(path_or_file, frames, *, fmt=None, codec="libx264", fps=30, pix_fmt="yuv420p",
           options=None, pts=None, container_options=None, rotation: int = 0) -> int:
    """Encode ``(H, W, 3) uint8`` RGB frames with any PyAV encoder; returns the count.

    ``pts`` (list of ints, time base 1/1000) makes variable frame rate; ``rotation``
    (degrees, counter-clockwise) is stored as display-matrix metadata. libx264 runs
    single-threaded with mbtree off, so the bytes are the same on every run.
    """
    n = 0
    with av.open(path_or_file, "w", format=fmt, options=container_options or {}) as c:
        s = c.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        s.pix_fmt = pix_fmt
        if rotation:
            s.set_display_rotation(rotation)
        defaults = {"threads": "1", "x264-params": "mbtree=0"} if codec == "libx264" else {}
        s.codec_context.options = {**defaults, **(options or {})}  # deterministic bytes
        if pts is not None:
            s.codec_context.time_base = Fraction(1, 1000)
        for img in frames:
            if n == 0:
                s.height, s.width = img.shape[:2]
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[n], Fraction(1, 1000)
            for p in s.encode(frame):
                c.mux(p)
            n += 1
        for p in s.encode(None):
            c.mux(p)
    return n


def write_video(path: str, frames, fps: float = 25.0, rotation: int = 0, crf: int = 18) -> int:
    """Encode ``(H, W, 3) uint8`` RGB frames to H.264 MP4 (or MKV by extension); returns the count.

    ``rotation`` (degrees) is stored as display-matrix metadata.
    """
    return encode(path, frames, fps=fps, rotation=rotation,
                  options={"crf": str(crf), "preset": "ultrafast"})


def shots_video(path: str, shots: list[Shot], width: int = 320, height: int = 240, fps: float = 25.0,
                rotation: int = 0) -> list[int]:
    """Write consecutive hard-cut shots; returns the cut frames (first frame of each later shot)."""
    def frames():
        for shot in shots:
            for i in range(shot.frames):
                yield render(shot.seed, i / fps, width, height, shot.pan, shot.zoom, shot.drift)
    write_video(path, frames(), fps, rotation)
    return [int(c) for c in np.cumsum([s.frames for s in shots])[:-1]]


def shot_sources(folder, shots: dict[str, list[Shot]], width: int = 160, height: int = 120) -> dict[str, str]:
    """Write one source video per entry of ``shots`` (``{name: its shots}``) as
    ``<folder>/<name>.mp4`` (:func:`shots_video`); returns ``{name: path}``."""
    out = {}
    for name, parts in shots.items():
        out[name] = str(Path(folder) / f"{name}.mp4")
        shots_video(out[name], parts, width, height)
    return out


def detect_frames(frames, fps: float = 25.0):
    """Feed ``frames`` (BGR ``(H, W, 3) uint8``) one by one to the split stage's shot
    detector at ``fps``; return its :class:`curate.split.shots.Boundaries` and the
    ``(n, h, 32, 3) uint8`` thumbnails it kept."""
    from curate.split import SplitStage

    detector = SplitStage().shot_detector(fps)
    for f in frames:
        detector.feed(f)
    return detector.boundaries(), detector._thumbs.view()
