"""Where the picture decides between camera models: still bands, flat ends, a sliding scene.

:func:`curate.camfit.fit_camera` judges each candidate model cell by cell on an
``cells x cells`` grid (row by row, inside a border): where it clearly beats the fixed
camera (``wins``), where the fixed camera clearly beats it, and which cells tell any two
models apart at all (``telling``: flat cells, a plain wall or a clear sky, tell none).
These rules read the layout of those cells, since a camera that moves moves every edge
of the picture while an object moves a part of it:

- :func:`still_band`: a band sliding across the whole picture between still lines at two
  opposite edges is something passing close (a train, a bus), not the camera.
- :func:`flat_ends`: a model winning only between two flat ends along its motion moves a
  textured object over a featureless background (the fixed camera is kept).
- :func:`spans`: a sliding model that wins most of the telling cells from one edge of the
  picture to the other is the camera, even where those are few (a sky over most of it).

:func:`slides` and :func:`distinct` compare models by how far they move the frame's
corners. Coordinates are centred on the frame.
"""

from __future__ import annotations

import functools

import numpy as np


def still_band(still: np.ndarray, moves: np.ndarray, cells: int) -> bool:
    """Whether the cells where the fixed camera clearly beats a moving model (``still``,
    ``(cells * cells,) bool``, row by row) make whole the first and the last row of the
    grid, or its first and last column (:mod:`curate.camfit`, step 3): lines with no cell
    where the model clearly beats the fixed camera (``moves``) and at least half of their
    cells still (the rest flat: a white ceiling, sky)."""
    s, m = still.reshape(cells, cells), moves.reshape(cells, cells)
    for axis in (1, 0):  # rows, then columns
        lines = (~m.any(axis=axis)) & (s.sum(axis=axis) * 2 >= cells)
        if lines[0] and lines[-1]:
            return True
    return False


def flat_ends(wins: np.ndarray, telling: np.ndarray, cells: int, axis: int) -> bool:
    """Whether the first and the last line of the grid along the motion (``axis`` 1: columns,
    for a pan; 0: rows, for a tilt) are flat: no cell of theirs tells any two models apart
    (``telling``, ``(cells * cells,) bool``), so none where a moving model wins (``wins``,
    which must hold some cell). A model moving along ``axis`` (its translation's larger
    part; a RANSAC fit to an object's flow often holds a slight turn or scale too) that
    wins only between flat ends moves a textured object across a featureless background
    (a wall, a studio backdrop, a black stage): a camera moving across such a scene looks
    the same, and the fixed camera is kept."""
    t = telling.reshape(cells, cells)
    ends = (t[:, 0], t[:, -1]) if axis == 1 else (t[0], t[-1])
    return not ends[0].any() and not ends[1].any() and wins.any()


def spans(wins: np.ndarray, telling: np.ndarray, cells: int, min_exclusive: float, axis: int) -> bool:
    """Whether a sliding model that wins in too few of all cells still wins the picture:
    in at least ``min_exclusive`` of the cells that tell models apart (a flat sky or a
    plain wall tells none), at least half ``min_exclusive`` of all cells telling, and in the
    first and the last line along the motion (``axis`` as in :func:`flat_ends`): the
    textured part of the scene slides in at one edge of the picture and out at the other,
    under a sky filling most of the frame."""
    n = int(telling.sum())
    if n < min_exclusive * cells * cells / 2 or wins.sum() < min_exclusive * n:
        return False
    w = wins.reshape(cells, cells)
    ends = (w[:, 0], w[:, -1]) if axis == 1 else (w[0], w[-1])
    return bool(ends[0].any() and ends[1].any())


def slides(matrix: np.ndarray, shape: tuple[int, int], px: float) -> bool:
    """Whether a centred model is a translation: its scale and rotation move no frame
    corner more than ``px`` (pixels)."""
    return float(np.abs(_frame_corners(*shape)[:, :2] @ (matrix[:, :2] - np.eye(2)).T).max()) <= px


def distinct(m1: np.ndarray, m2: np.ndarray, shape: tuple[int, int], px: float) -> bool:
    """Whether two centred models move some frame corner more than ``px`` apart."""
    return float(np.abs(_frame_corners(*shape) @ (m1 - m2).T).max()) > px


@functools.lru_cache(maxsize=16)
def _frame_corners(h: int, w: int) -> np.ndarray:
    """Centred homogeneous coordinates of a frame's four corners, ``(4, 3) float64``."""
    out = np.array([[-(w - 1) / 2, -(h - 1) / 2, 1], [(w - 1) / 2, (h - 1) / 2, 1],
                    [-(w - 1) / 2, (h - 1) / 2, 1], [(w - 1) / 2, -(h - 1) / 2, 1]])
    out.flags.writeable = False
    return out
