"""Camera labels where much of the picture is featureless: a plain wall, a clear sky.

Flat cells tell no camera model from another, so only the textured part of the picture
decides. Every input is made here with exact known motion: a textured object
(support.synth's scene) moving over a plain wall in front of a fixed camera (truth:
static), and a textured scene panned under a flat sky that fills the top 70 % of the
frame (truth: pan).
"""

import cv2
import numpy as np

from curate.camera import camera_segments
from curate.score import motion_track
from support.synth import render

FPS = 4.0
W, H = 224, 128


def _wall(n: int, level: float = 140.0, seed: int = 0) -> np.ndarray:
    """A plain wall seen by a fixed camera: ``(n, H, W) uint8``, one level with sensor noise
    (sigma 1.2 levels, new in every frame)."""
    rng = np.random.default_rng(seed)
    return np.clip(level + rng.normal(0, 1.2, (n, H, W)), 0, 255).astype(np.uint8)


def _object(frames: np.ndarray, x0: int, y0: int, w: int, h: int, vx: float) -> np.ndarray:
    """An opaque textured ``w`` x ``h`` object at ``(x0 + vx * i, y0)`` in frame ``i``."""
    tex = cv2.normalize(cv2.cvtColor(render(99, 0, w, h), cv2.COLOR_RGB2GRAY), None, 20, 235, cv2.NORM_MINMAX)
    out = frames.copy()
    for i, f in enumerate(out):
        x = int(round(x0 + vx * i))
        f[y0:y0 + h, x:x + w] = tex
    return out


def _panned_under_sky(n: int, pan: float, sky: float = 0.7) -> np.ndarray:
    """A textured scene panned at ``pan`` scene widths per second, its top ``sky`` of the rows
    a flat sky (one level with sensor noise)."""
    rng = np.random.default_rng(1)
    frames = np.stack([cv2.cvtColor(render(41, i / FPS, W, H, (pan, 0.0), 0.0, drift=0.0), cv2.COLOR_RGB2GRAY)
                       for i in range(n)])
    rows = int(sky * H)
    frames[:, :rows] = np.clip(200 + rng.normal(0, 1.2, (n, rows, W)), 0, 255).astype(np.uint8)
    return frames


def _labels(frames: np.ndarray) -> list[str]:
    track = motion_track(frames, [i / FPS for i in range(len(frames))], "dis")[0]
    return [s.camera for s in camera_segments(track, len(track) / FPS + 1 / FPS)]


def test_an_object_crossing_a_plain_wall_is_no_pan():
    """A textured object 36 % of the width and 78 % of the height moves right by 5 px a frame
    over a plain wall, never reaching the frame's sides: the moving model wins every cell
    on the object and the fixed camera none (the wall tells nothing), but the first and the
    last column of cells are flat, as a fixed camera on a passing object gives them."""
    frames = _object(_wall(9), 40, 14, 80, 100, 5)
    assert set(_labels(frames)) == {"static"}


def test_a_small_object_on_a_plain_wall_and_a_textured_pan_keep_their_labels():
    assert set(_labels(_object(_wall(9, level=90), 60, 40, 40, 40, 6))) == {"static"}
    assert set(_labels(_panned_under_sky(9, 0.12, sky=0.0))) == {"pan_right"}


def test_a_pan_under_a_sky_filling_most_of_the_frame_is_a_pan():
    """The textured ground (the bottom 30 %) slides in at one side and out at the other: the
    moving model wins in too few of all cells (the sky tells nothing), but in most of the
    cells that tell models apart, from the first column to the last."""
    assert set(_labels(_panned_under_sky(9, 0.12))) == {"pan_right"}
    assert set(_labels(_panned_under_sky(9, -0.12))) == {"pan_left"}
