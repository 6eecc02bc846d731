"""Camera labels where much of the picture is featureless: a clear sky, a flat card.

Flat cells tell no camera model from another, so only the textured part of the picture
decides. Every input is made here with exact known motion: a textured scene
(support.synth's) panned under a flat sky that fills the top 70 % of the frame (truth:
pan), a textured band crawling across the middle of a flat card in front of a fixed
camera (a ticker; truth: static), and a small object on a plain wall (truth: static).
"""

import cv2
import numpy as np

from curate.camera import camera_segments
from curate.score import motion_track
from support.movers import with_band, with_object
from support.synth import render

FPS = 4.0
W, H = 224, 128


def _wall(n: int, level: float = 140.0, seed: int = 0) -> np.ndarray:
    """A plain wall seen by a fixed camera: ``(n, H, W) uint8``, one level with sensor noise
    (sigma 1.2 levels, new in every frame)."""
    rng = np.random.default_rng(seed)
    return np.clip(level + rng.normal(0, 1.2, (n, H, W)), 0, 255).astype(np.uint8)


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


def test_a_band_crawling_across_the_middle_of_a_flat_card_is_no_pan():
    """A ticker across the whole width, two rows of cells in the middle of a flat card: the
    moving model wins most of the cells that tell models apart, from the first column to
    the last, but the band reaches neither the top nor the bottom edge, as the ground
    under a panned sky does."""
    assert set(_labels(with_band(_wall(9), 54, 20, 8))) == {"static"}


def test_a_small_object_on_a_plain_wall_and_a_textured_pan_keep_their_labels():
    assert set(_labels(with_object(_wall(9, level=90), 60, 40, 40, 40, 6, 0))) == {"static"}
    assert set(_labels(_panned_under_sky(9, 0.12, sky=0.0))) == {"pan_right"}


def test_a_pan_under_a_sky_filling_most_of_the_frame_is_a_pan():
    """The textured ground (the bottom 30 %) slides in at one side and out at the other: the
    moving model wins in too few of all cells (the sky tells nothing), but in most of the
    cells that tell models apart, from the first column to the last."""
    assert set(_labels(_panned_under_sky(9, 0.12))) == {"pan_right"}
    assert set(_labels(_panned_under_sky(9, -0.12))) == {"pan_left"}
