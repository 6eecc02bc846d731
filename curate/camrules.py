"""Where the picture decides between camera models: still bands, a sky, a followed subject.

:func:`curate.camfit.fit_camera` judges each candidate model cell by cell on an
``cells x cells`` grid (row by row, inside a border): where it clearly beats the fixed
camera (``wins``), where the fixed camera clearly beats it, and which cells tell any two
models apart at all (``telling``: flat cells, a plain wall or a clear sky, tell none).
These rules read the layout of those cells, since a camera that moves moves every edge
of the picture while an object moves a part of it:

- :func:`still_band`: a band sliding across the whole picture between still lines at two
  opposite edges is something passing close (a train, a bus), not the camera.
- :func:`spans`: a sliding model that wins most of the telling cells from one edge of the
  picture to the other, along a third edge, is the camera, even where those are few (a
  sky over most of it).
- :func:`held_subject`: a sliding model that the fixed camera beats in more cells is the
  camera where those cells are an island its wins surround on three edges: a subject the
  camera follows (a tracking shot) holds still in the frame, larger than the textured
  part of the background sliding past it.

Not ruled on: a textured object crossing a fixed camera's view of a featureless background
(a plain wall, a studio backdrop) is taken for a pan. A camera panning across a tower in a
clear sky gives the same pictures, and a rule keeping the fixed camera there (tried: a
model winning only between flat ends along its motion) turned such pans, and zooms onto
someone before a plain backdrop, into ``static``.

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


def still_ring(still: np.ndarray, moves: np.ndarray, telling: np.ndarray, cells: int,
               share: float = 0.5, least: int = 3) -> bool:
    """Whether a model that does not slide (a zoom or a turn, whose motion is largest at the
    picture's edges) is held still along the edges: of the outer ring's cells that tell
    models apart (``telling``; flat asphalt or sky tells none), the fixed camera clearly
    beats it (``still``, ``(cells * cells,) bool``) in at least ``share`` and ``least``,
    and in at least as many as the model clearly beats the fixed camera (``moves``; a
    camera's zoom moves every textured edge cell, so the fixed camera wins none there). An object coming towards a fixed camera grows in the middle of the
    picture while its edges keep still (a break test read it as a zoom in)."""
    ring = np.ones((cells, cells), bool)
    ring[1:-1, 1:-1] = False
    ring = ring.ravel()
    held, moved = int((still & ring).sum()), int((moves & ring).sum())
    return held >= max(least, share * int((telling & ring).sum())) and held >= moved


def held_subject(still: np.ndarray, moves: np.ndarray, cells: int, axis: int = 1) -> bool:
    """Whether the cells where the fixed camera clearly beats a sliding model (``still``,
    ``(cells * cells,) bool``, row by row) are a subject the camera follows, judged along
    the motion (``axis`` 1: a pan, from the first column of the grid to the last; 0: a
    tilt, rows for columns). The still cells must not reach both ends along the motion (a
    band there is the background: above a river, a ticker or the road under a passing
    train); where they reach both edges across it (a person standing from the top of the
    frame to the bottom), the model's clear wins (``moves``) must reach both ends along
    it. The wins must reach at least three of the grid's four edges, among them each edge
    across the motion that the still cells stand on. A person walking or a car driven
    alongside holds still in the frame while the background slides past on every side,
    beside it too where it stands on the frame's edge; an object crossing a fixed camera's
    view leaves the background around it still, and a train passing over the heads of
    people standing on a featureless platform moves above them only."""
    s, m = still.reshape(cells, cells), moves.reshape(cells, cells)
    if axis == 0:  # a tilt: rows for columns
        s, m = s.T, m.T
    if not s.any() or (s[:, 0].any() and s[:, -1].any()):  # still from one end of the motion to the other
        return False
    if s[0].any() and s[-1].any() and not (m[:, 0].any() and m[:, -1].any()):  # tall, with no motion on both sides
        return False
    if any(s[k].any() and not m[k].any() for k in (0, -1)):  # nothing moving beside it on an edge it stands on
        return False
    return int(m[0].any()) + int(m[-1].any()) + int(m[:, 0].any()) + int(m[:, -1].any()) >= 3


def spans(wins: np.ndarray, telling: np.ndarray, cells: int, min_exclusive: float, axis: int) -> bool:
    """Whether a sliding model that wins in too few of all cells still wins the picture:
    in at least ``min_exclusive`` of the cells that tell models apart (a flat sky or a
    plain wall tells none), at least half ``min_exclusive`` of all cells telling, in the
    first and the last line along the motion (``axis`` 1: columns, for a pan; 0: rows,
    for a tilt), and in every cell of a line at an edge across it (the bottom or top row
    for a pan): the textured ground slides in at one side of the picture and out at the
    other under a sky filling most of the frame. A band in the middle of the frame (a
    ticker or credits over a flat card, a train between sky and plain water) reaches no
    such edge. One along an edge is taken for the camera: a ticker along the bottom of a
    flat graphic gives the pictures of a pan under a sky."""
    n = int(telling.sum())
    if n < min_exclusive * cells * cells / 2 or wins.sum() < min_exclusive * n:
        return False
    w = wins.reshape(cells, cells)
    ends = (w[:, 0], w[:, -1]) if axis == 1 else (w[0], w[-1])
    sides = (w[0], w[-1]) if axis == 1 else (w[:, 0], w[:, -1])  # across the motion
    return bool(ends[0].any() and ends[1].any() and (sides[0].all() or sides[1].all()))


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
