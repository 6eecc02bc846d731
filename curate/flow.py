"""Dense optical flow and global (camera) motion between consecutive luma frames.

Flow: OpenCV's Farneback (Farnebäck, "Two-Frame Motion Estimation Based on Polynomial
Expansion", SCIA 2003) or DIS (Kroeger et al., "Fast Optical Flow using Dense Inverse
Search", ECCV 2016); neither needs weights.

Global motion: a least-squares similarity model fitted to the flow field around the
frame centre, ``u = tx + s*x - r*y``, ``v = ty + s*y + r*x`` (x, y centred pixel
coordinates): ``tx, ty`` is the pan/tilt translation, ``s`` the relative scale change
(zoom), ``r`` the rotation. What the model does not explain (``residual``) is object
motion. This least-squares fit (``fit="least_squares"``) lets object motion pull the
camera estimate (a car driving in reads as a zoom); the default ``fit="ransac"`` takes
the camera model from :func:`curate.camfit.fit_camera` (tracked features, RANSAC,
spatial support) and measures everything else against it.

Subject motion: the flow that the camera model does not explain, above
``subject_px`` pixels per frame interval, is the moving region (``subject_share`` of the
frame inside the margin); ``subject_x``/``subject_y`` is its mean residual flow.

Everything is returned per second and normalised by frame width, so values compare
across resolutions and frame rates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from curate.camcand import vector_length
from curate.camfit import fit_camera
from curate.passing import StepCells
from curate.residual import centred_grid, changed, model_flow


@dataclass(frozen=True)
class GlobalMotion:
    """Motion between two frames, per second: ``pan_x``/``pan_y``/``residual``/``magnitude``
    and ``subject_x``/``subject_y`` in frame widths per second; ``zoom`` in relative scale
    per second; ``subject_share`` 0..1; ``inlier_share`` and ``confidence`` 0..1 from the
    robust fit (None for the least-squares fit); ``cells``: the robust fit's cells of its
    strongest sliding candidate (:class:`curate.passing.StepCells`, None where none)."""

    pan_x: float
    pan_y: float
    zoom: float
    residual: float
    magnitude: float
    inlier_share: float | None = None
    confidence: float | None = None
    subject_share: float = 0.0
    subject_x: float = 0.0
    subject_y: float = 0.0
    cells: StepCells | None = None


_MIN_SIDE = 32  # DIS needs a pyramid level of at least this size


def dense_flow(prev: np.ndarray, cur: np.ndarray, method: str = "dis") -> np.ndarray:
    """Flow from ``prev`` to ``cur`` (both ``(H, W) uint8``): ``(H, W, 2) float32`` pixels.

    Frames thinner than 32 px (a 2000x16 strip) are padded by edge replication for the
    computation and the flow is cropped back.
    """
    prev, cur = np.ascontiguousarray(prev), np.ascontiguousarray(cur)
    h, w = prev.shape[:2]
    if min(h, w) < _MIN_SIDE:
        py, px = max(0, _MIN_SIDE - h), max(0, _MIN_SIDE - w)
        pad = lambda f: cv2.copyMakeBorder(f, 0, py, 0, px, cv2.BORDER_REPLICATE)  # noqa: E731
        return dense_flow(pad(prev), pad(cur), method)[:h, :w]
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(prev, cur, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    if method == "dis":
        return _dis((h, w)).calc(prev, cur, None)
    raise ValueError(f"unknown flow method {method!r} (farneback, dis)")


_PER_THREAD = threading.local()


def _dis(shape: tuple[int, int]) -> cv2.DISOpticalFlow:
    """This thread's DIS instance (preset ``FAST``) for frames of ``shape``, kept while the
    shape stays (a clip's pairs) so its buffers are allocated once. An instance sees one
    shape only: after a call at another size, OpenCV's DIS gives a different flow than a
    new instance would. A new instance first computes the flow of two black frames, and
    that result is dropped: at some sizes (45 x 80) an instance's first ``calc`` differs
    from its later ones on the same frames (by up to 0.01 px; found by a break test), so
    the first pair of whichever clip a thread took first came out otherwise. From its
    second call on, each ``calc`` depends on its two frames only (whatever came before)."""
    kept = getattr(_PER_THREAD, "dis", None)
    if kept is None or kept[0] != shape:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        black = np.zeros(shape, np.uint8)
        dis.calc(black, black, None)
        kept = _PER_THREAD.dis = (shape, dis)
    return kept[1]


def fit_global(flow: np.ndarray, margin: float = 0.08) -> tuple[float, float, float, float, np.ndarray]:
    """Least-squares similarity fit to ``flow`` ``(H, W, 2)``.

    A border of ``margin`` (fraction of each side) is left out: content entering or
    leaving the frame has no valid flow there. Returns ``(tx, ty, s, r,
    residual_field)`` with tx, ty in pixels, s and r per frame interval, and the
    residual flow of the fitted region.
    """
    h0, w0 = flow.shape[:2]
    my, mx = int(h0 * margin), int(w0 * margin)
    flow = flow[my:h0 - my, mx:w0 - mx]
    xs, ys = centred_grid(*flow.shape[:2])
    u, v = flow[..., 0], flow[..., 1]
    tx, ty = float(u.mean()), float(v.mean())
    denom = float((xs * xs + ys * ys).mean()) or 1.0
    s = float(((u - tx) * xs + (v - ty) * ys).mean() / denom)
    r = float(((v - ty) * xs - (u - tx) * ys).mean() / denom)
    model_u = tx + s * xs - r * ys
    model_v = ty + s * ys + r * xs
    return tx, ty, s, r, np.stack([u - model_u, v - model_v], axis=-1)


def _margin(field: np.ndarray, margin: float) -> np.ndarray:
    h, w = field.shape[:2]
    my, mx = int(h * margin), int(w * margin)
    return field[my:h - my, mx:w - mx]


def subject_motion(residual: np.ndarray, subject_px: float,
                   change: np.ndarray | None = None) -> tuple[float, float, float]:
    """Moving region of a residual flow field ``(H, W, 2)`` (pixels per interval).

    Returns ``(share, dx, dy)``: the share of pixels whose residual exceeds
    ``subject_px`` (and that changed, where a ``(H, W) bool`` ``change`` mask is given:
    flow spreads into flat surroundings that did not change), and their mean residual in
    pixels (0 when none moves).
    """
    return _subject(residual, vector_length(residual), subject_px, change)


def _subject(residual: np.ndarray, length: np.ndarray, subject_px: float,
             change: np.ndarray | None) -> tuple[float, float, float]:
    """:func:`subject_motion` given the residual's length ``(H, W)`` (computed once by the caller)."""
    moving = length > subject_px
    if change is not None:
        moving &= change
    count = np.count_nonzero(moving)
    share = count / moving.size if moving.size else 0.0
    if not count:
        return share, 0.0, 0.0
    return share, float(residual[..., 0][moving].mean()), float(residual[..., 1][moving].mean())


def global_motion(prev: np.ndarray, cur: np.ndarray, dt: float, method: str = "dis",
                  fit: str = "ransac", subject_px: float = 1.0, margin: float = 0.08,
                  hold: bool = False) -> GlobalMotion:
    """Camera, subject and total motion between two luma frames ``dt`` seconds apart.

    ``fit``: ``ransac`` (default, :func:`curate.camfit.fit_camera`) or ``least_squares``
    (:func:`fit_global` on the flow field). ``hold``: the robust fit takes the fixed camera
    (:func:`curate.camfit.fit_camera`). Raises ValueError when ``dt <= 0``, the
    frames differ in shape or ``fit`` is unknown.
    """
    if dt <= 0:
        raise ValueError(f"dt must be positive, got {dt}")
    if prev.shape != cur.shape:
        raise ValueError(f"frame shapes differ: {prev.shape} vs {cur.shape}")
    if fit not in ("ransac", "least_squares"):
        raise ValueError(f"unknown camera fit {fit!r} (ransac, least_squares)")
    flow = dense_flow(prev, cur, method)
    width = float(prev.shape[1])
    norm = width * dt
    flow_length = vector_length(flow)
    mag = float(flow_length.mean())  # whole frame: objects at the edges count
    length = None
    if fit == "least_squares":  # the earlier fit, kept as it was (no change mask) for comparison
        tx, ty, s, _r, res = fit_global(flow, margin)
        inl = conf = change = cells = None
    else:
        cam = fit_camera(prev, cur, flow, margin=margin, hold=hold)
        tx, ty, s, inl, conf = cam.tx, cam.ty, cam.scale - 1.0, cam.inlier_share, cam.confidence
        cells = cam.cells
        res = _margin(flow, margin)
        if cam.static:  # the fixed camera's model flow is zero: the residual is the flow
            length = np.ascontiguousarray(_margin(flow_length, margin))
        else:
            res = res - model_flow(cam.matrix, prev.shape[:2], margin)
        change = _margin(changed(prev, cur, cam.matrix), margin)
    if length is None:
        length = vector_length(res)
    share, sx, sy = _subject(res, length, subject_px, change)
    resid = float(length.mean()) if res.size else 0.0
    return GlobalMotion(pan_x=tx / norm, pan_y=ty / norm, zoom=s / dt, residual=resid / norm,
                        magnitude=mag / norm, inlier_share=inl, confidence=conf,
                        subject_share=share, subject_x=sx / norm, subject_y=sy / norm, cells=cells)
