"""Robust camera-motion fit between two luma frames: candidate models, judged cell by cell.

Camera motion moves the whole picture; objects move a part of it. A least-squares fit to
the flow field lets a car driving in read as a zoom. Here a few candidate models are
fitted robustly and the picture decides between them region by region, with the fixed
camera as the default that a moving model must clearly beat:

1. Candidates (:mod:`curate.camcand`): the fixed camera (identity); a similarity model (translation, scale,
   rotation) fitted by RANSAC (Fischler and Bolles, CACM 1981;
   ``cv2.estimateAffinePartial2D``) to Shi-Tomasi corners (Shi and Tomasi, "Good
   Features to Track", CVPR 1994) found cell by cell and tracked by pyramidal
   Lucas-Kanade with a forward-backward check (Kalal et al., ICPR 2010); one fitted by
   RANSAC to the dense flow (DIS, :mod:`curate.flow`) on a grid; one fitted to the flow
   the previous one leaves out (a second motion: the background when an object dominates
   the flow, or the object); and, where the corners' model keeps the frame still, one
   fitted to the corners it leaves out (a followed subject holding most of the corners).
2. Per-cell error: ``prev`` is warped by each model and compared with ``cur`` in an
   8x8 grid of cells (inside a border), each cell's mean difference removed first so an
   exposure change (a camera adapting to a white car) is no motion.
3. Decision: a moving model is chosen only when it *clearly* beats the fixed camera
   (error x ``vote_ratio`` + ``vote_tolerance`` below the fixed camera's) in at least
   ``min_exclusive`` of the cells and in more cells than the fixed camera clearly beats
   it (a large object moving over a still, textured background loses to the background);
   of several such, the one with the most such cells (within ``tie`` of the most, the
   lowest total error: a high-contrast object must not outweigh a faint background). Flat cells (asphalt, sky)
   cannot tell models apart and so never vote for motion. The layout of the cells then
   overrules the count (:mod:`curate.camrules`): a sliding model (a translation: no
   frame corner more than ``ransac_px`` off) does not win where the cells that clearly
   keep still make whole the first and the last row (or column) of the grid (a train or
   a bus passing close; still lines at one edge only may move with the camera: a
   dashboard, a broadcast's lower third); and a sliding model that wins in too few of
   all cells still wins where it wins most of the cells that tell models apart, from the
   first line to the last along its motion and along a whole edge across it (a pan under
   a clear sky filling most of the frame); and a sliding model that the fixed camera
   clearly beats in more cells still wins where those cells are an island its wins
   surround on three edges of the grid, when it clearly wins at least ``held_share`` of
   all cells (a subject the camera follows, standing still in the frame:
   :func:`curate.camrules.held_subject`). Over the steps of a clip, :mod:`curate.passing`
   tells a large object passing the fixed camera from a pan under a still graphic by
   whether the still cells' border moves with the moving ones; steps it finds are fitted
   again with ``hold`` (the fixed camera is the camera).
4. ``confidence`` = 1 - the share of cells that a *distinct* candidate (one moving some
   frame corner more than ``ransac_px`` away from the chosen model) clearly explains
   better than the chosen one: low when several motions split the frame and none
   dominates, and :mod:`curate.camera` then gives no camera label. ``inlier_share``:
   the share of cells where the chosen model is within tolerance of the best candidate.

Coordinates are centred on the frame, so ``tx, ty`` is the motion of the frame centre.
Pixel thresholds are at the motion sample's size (short side 128).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from curate.camcand import _IDENTITY, candidates
from curate.camrules import distinct, held_subject, slides, spans, still_band, still_ring
from curate.passing import StepCells


@dataclass(frozen=True)
class CameraFit:
    """Camera motion between two frames, per frame interval.

    ``tx``/``ty``: content displacement at the frame centre in pixels (positive =
    content moves right/down); ``scale``: relative scale (> 1: content grows);
    ``rotation`` in radians; ``matrix``: ``(2, 3) float64`` similarity mapping centred
    ``prev`` coordinates to ``cur``; ``points``: tracked corners; ``inlier_share`` and
    ``confidence`` 0..1 (module docstring); ``support``: share of cells where the chosen
    model clearly beats the fixed camera (0 for it); ``static``: the fixed camera won;
    ``cells``: the cells of the strongest sliding candidate (the chosen model, or where the
    fixed camera won the sliding candidate that clearly beats it in the most cells), for
    :func:`curate.passing.passing_steps`; None where there is none, or a zoom was chosen.
    """

    tx: float
    ty: float
    scale: float
    rotation: float
    matrix: np.ndarray
    points: int
    inlier_share: float
    support: float
    confidence: float
    static: bool
    cells: StepCells | None = None


@dataclass(frozen=True)
class FitParams:
    """Settings of :func:`fit_camera` (module docstring): corner ``grid`` cells per side
    and corners per cell, the RANSAC reprojection threshold and forward-backward limit
    (pixels), the fewest tracked corners for their fit, the flow sampling step (pixels),
    error ``cells`` per side, the clear-win rule (``vote_ratio``, ``vote_tolerance`` grey
    levels), ``min_exclusive`` (share of cells), ``second_share`` (share of flow samples
    left out before a second motion is fitted) and ``held_share`` (share of cells a sliding
    model must clearly win around a followed subject; None: that rule is off)."""

    grid: int = 4
    per_cell: int = 12
    ransac_px: float = 0.75
    fb_px: float = 0.5
    min_points: int = 8
    flow_step: int = 4
    cells: int = 8
    vote_ratio: float = 1.2
    vote_tolerance: float = 0.3
    min_exclusive: float = 0.35
    second_share: float = 0.1
    tie: float = 0.05
    held_share: float | None = 0.2


def _cell_spread(diff: np.ndarray, grid: int) -> np.ndarray:
    """Mean absolute deviation of ``diff`` ``(H, W)`` or ``(H, W, K)`` (K difference images as
    channels) from its mean in each of ``grid`` x ``grid`` cells (the last rows and columns
    that do not fill a cell are left out): ``(grid * grid,)`` or ``(K, grid * grid)``
    ``float32``. Removing each cell's mean difference ignores exposure and flicker changes,
    which shift a cell's brightness without moving it. Cell means are area resizes
    (``cv2.INTER_AREA`` at a whole-number factor: plain block means); each pixel's
    deviation is taken against its cell's mean by broadcasting over a
    ``(grid, ch, grid, cw, K)`` view, not against a full-size copy of the means."""
    d = np.asarray(diff, np.float32)
    h, w = d.shape[:2]
    k = d.shape[2] if d.ndim == 3 else 1
    ch, cw = h // grid, w // grid
    d = np.ascontiguousarray(d[:ch * grid, :cw * grid])
    means = cv2.resize(d, (grid, grid), interpolation=cv2.INTER_AREA)
    dev = d.reshape(grid, ch, grid, cw, k) - means.reshape(grid, 1, grid, 1, k)
    np.abs(dev, out=dev)
    out = cv2.resize(dev.reshape(grid * ch, grid * cw, k), (grid, grid),
                     interpolation=cv2.INTER_AREA).reshape(grid * grid, k).T
    return out[0] if d.ndim == 2 else out


def _sliding_cells(models: list[np.ndarray], slide: list[bool], k: int, err: np.ndarray, clearly: np.ndarray,
                   beats_static: np.ndarray, shape: tuple[int, int], params: FitParams,
                   margin: float) -> StepCells | None:
    """The cells of the chosen model where it slides (``slide``: each model's
    :func:`curate.camrules.slides`), or where the fixed camera was chosen of the sliding
    candidate with the most clear wins over it (near ties: the lowest total error); None
    when there is none or the chosen model does not slide."""
    if k == 0:
        pool = [j for j in range(1, len(models)) if beats_static[j] > 0 and slide[j]]
        if not pool:
            return None
        top = max(beats_static[j] for j in pool)
        k = min((j for j in pool if beats_static[j] >= top - params.tie), key=lambda j: err[j].sum())
        moving = False
    elif not slide[k]:
        return None
    else:
        moving = True
    h, w = shape
    cell = ((w - 2 * int(w * margin)) // params.cells, (h - 2 * int(h * margin)) // params.cells)  # as cell_errors
    return StepCells(moves=clearly[k] < err[0], held=clearly[0] < err[k], tx=float(models[k][0, 2]),
                     ty=float(models[k][1, 2]), moving=moving, cell=(float(cell[0]), float(cell[1])))


def _uncentred(matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    c = np.array([(shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0])
    out = matrix.copy()
    out[:, 2] = c - matrix[:, :2] @ c + matrix[:, 2]
    return out


def cell_errors(prev: np.ndarray, cur: np.ndarray, models: list[np.ndarray], cells: int,
                margin: float) -> np.ndarray:
    """Error of ``cur`` against ``prev`` warped by each model, per cell (:func:`_cell_spread`).

    A border of ``margin`` is left out; frames are not blurred, so faint texture (asphalt,
    a wall) still tells models apart. Returns ``(len(models), cells * cells) float32`` in
    grey levels.
    """
    h, w = prev.shape
    my, mx = int(h * margin), int(w * margin)
    y1 = my + (h - 2 * my) // cells * cells  # whole cells only (_cell_spread leaves the rest out)
    x1 = mx + (w - 2 * mx) // cells * cells
    a, b = prev.astype(np.float32), cur[my:y1, mx:x1].astype(np.float32)
    diffs = np.empty((y1 - my, x1 - mx, len(models)), np.float32)  # a channel per model
    for j, m in enumerate(models):
        np.subtract(b, _warp(a, m)[my:y1, mx:x1], out=diffs[..., j])
    return _cell_spread(diffs, cells)


def _warp(img: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``img`` ``(H, W)`` warped by a centred model (bilinear, edges replicated); the fixed camera
    returns ``img`` itself (the warp would copy it unchanged)."""
    if np.array_equal(matrix, _IDENTITY):
        return img
    h, w = img.shape
    return cv2.warpAffine(img, _uncentred(matrix, (h, w)), (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def fit_camera(prev: np.ndarray, cur: np.ndarray, flow: np.ndarray, params: FitParams = FitParams(),
               margin: float = 0.08, hold: bool = False) -> CameraFit:
    """Camera motion from ``prev`` to ``cur`` (both ``(H, W) uint8``), per the module docstring.

    ``flow``: the dense flow ``(H, W, 2) float32`` from ``prev`` to ``cur`` in pixels
    (:func:`curate.flow.dense_flow`), one source of candidate models. Cells inside a
    border of ``margin`` (content entering or leaving) vote. Frames whose inside is
    smaller than ``params.cells`` pixels on a side give the fixed camera with confidence
    0 (no camera label). ``hold``: the fixed camera is the camera, and the moving models
    that would have won move objects (:mod:`curate.passing` found one passing). Raises
    ValueError when the shapes differ.
    """
    if prev.shape != cur.shape or flow.shape[:2] != prev.shape:
        raise ValueError(f"shapes differ: {prev.shape}, {cur.shape}, flow {flow.shape}")
    h, w = prev.shape
    if min(h - 2 * int(h * margin), w - 2 * int(w * margin)) < params.cells:  # too small to judge
        return CameraFit(0.0, 0.0, 1.0, 0.0, _IDENTITY, 0, 0.0, 0.0, 0.0, True)
    models, points = candidates(prev, cur, flow, params)
    err = cell_errors(prev, cur, models, params.cells, margin)
    clearly = err * params.vote_ratio + params.vote_tolerance  # a cell clearly prefers model j over i
    beats_static = (clearly < err[0]).mean(axis=1)
    static_beats = (clearly[0] < err).mean(axis=1)
    telling = (clearly[:, None, :] < err[None, :, :]).any(axis=(0, 1))  # cells some model clearly wins
    moving, banded = [], []
    slide = [slides(m, prev.shape, params.ransac_px) for m in models]  # translations only
    held = []  # sliding models that win around a subject the camera follows
    for j in range(1, len(models)):
        wins, sliding = clearly[j] < err[0], slide[j]
        axis = 1 if abs(models[j][0, 2]) >= abs(models[j][1, 2]) else 0  # columns for a pan, rows for a tilt
        if beats_static[j] <= static_beats[j]:
            if (sliding and params.held_share is not None and beats_static[j] >= params.held_share
                    and held_subject(clearly[0] < err[j], wins, params.cells, axis)
                    and distinct(models[j], _IDENTITY, prev.shape, params.ransac_px)):
                moving.append(j)
                held.append(j)
            continue
        if beats_static[j] >= params.min_exclusive:
            band = (still_band(clearly[0] < err[j], wins, params.cells) if sliding
                    else still_ring(clearly[0] < err[j], wins, telling, params.cells))
            (banded if band else moving).append(j)
        elif (sliding and not static_beats[j] and spans(wins, telling, params.cells, params.min_exclusive, axis)
              and distinct(models[j], _IDENTITY, prev.shape, params.ransac_px)):
            moving.append(j)
    if hold:  # an object passing the fixed camera, seen over the steps around this one
        banded, moving = banded + moving, []
    k = 0
    if moving:  # most clear wins over the fixed camera; near ties go to the lower total error
        top = max(beats_static[j] for j in moving)
        k = min((j for j in moving if beats_static[j] >= top - params.tie), key=lambda j: err[j].sum())
    matrix = models[k]
    rivals = [j for j in range(len(models)) if distinct(models[j], matrix, prev.shape, params.ransac_px)
              and not (k == 0 and j in banded)  # a model kept off by a still band moves an object
              and not (k in held and not distinct(models[j], _IDENTITY, prev.shape, params.ransac_px))]  # the subject
    against = (clearly[rivals] < err[k]).any(axis=0) if rivals else np.zeros(err.shape[1], bool)
    share = float((err[k] <= err.min(axis=0) * params.vote_ratio + params.vote_tolerance).mean())
    a, b = float(matrix[0, 0]), float(matrix[1, 0])
    return CameraFit(cells=_sliding_cells(models, slide, k, err, clearly, beats_static, prev.shape, params, margin),
                     tx=float(matrix[0, 2]), ty=float(matrix[1, 2]), scale=float(np.hypot(a, b)),
                     rotation=float(np.arctan2(b, a)), matrix=matrix, points=points,
                     inlier_share=share, support=float(beats_static[k]),
                     confidence=1.0 - float(against.mean()), static=k == 0)
