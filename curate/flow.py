"""Dense optical flow and global (camera) motion between consecutive luma frames.

Flow: OpenCV's Farneback (Farnebäck, "Two-Frame Motion Estimation Based on Polynomial
Expansion", SCIA 2003) or DIS (Kroeger et al., "Fast Optical Flow using Dense Inverse
Search", ECCV 2016); neither needs weights.

Global motion: a least-squares similarity model fitted to the flow field around the
frame centre, ``u = tx + s*x - r*y``, ``v = ty + s*y + r*x`` (x, y centred pixel
coordinates): ``tx, ty`` is the pan/tilt translation, ``s`` the relative scale change
(zoom), ``r`` the rotation. What the model does not explain (``residual``) is object
motion. Everything is returned per second and normalised by frame width, so values
compare across resolutions and frame rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class GlobalMotion:
    """Motion between two frames, per second: ``pan_x``/``pan_y``/``residual``/``magnitude``
    in frame widths per second; ``zoom`` in relative scale per second."""

    pan_x: float
    pan_y: float
    zoom: float
    residual: float
    magnitude: float


_MIN_SIDE = 32  # DIS needs a pyramid level of at least this size


def dense_flow(prev: np.ndarray, cur: np.ndarray, method: str = "dis") -> np.ndarray:
    """Flow from ``prev`` to ``cur`` (both ``(H, W) uint8``): ``(H, W, 2) float32`` pixels.

    Frames thinner than 32 px (a 2000x16 strip) are padded by edge replication for the
    computation and the flow is cropped back.
    """
    h, w = prev.shape[:2]
    if min(h, w) < _MIN_SIDE:
        py, px = max(0, _MIN_SIDE - h), max(0, _MIN_SIDE - w)
        pad = lambda f: cv2.copyMakeBorder(f, 0, py, 0, px, cv2.BORDER_REPLICATE)  # noqa: E731
        return dense_flow(pad(prev), pad(cur), method)[:h, :w]
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(prev, cur, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        return dis.calc(prev, cur, None)
    raise ValueError(f"unknown flow method {method!r} (farneback, dis)")


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
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs -= (w - 1) / 2.0
    ys -= (h - 1) / 2.0
    u, v = flow[..., 0], flow[..., 1]
    tx, ty = float(u.mean()), float(v.mean())
    denom = float((xs * xs + ys * ys).mean()) or 1.0
    s = float(((u - tx) * xs + (v - ty) * ys).mean() / denom)
    r = float(((v - ty) * xs - (u - tx) * ys).mean() / denom)
    model_u = tx + s * xs - r * ys
    model_v = ty + s * ys + r * xs
    return tx, ty, s, r, np.stack([u - model_u, v - model_v], axis=-1)


def global_motion(prev: np.ndarray, cur: np.ndarray, dt: float, method: str = "dis") -> GlobalMotion:
    """Camera and object motion between two luma frames ``dt`` seconds apart.

    Raises ValueError when ``dt <= 0`` or the frames differ in shape.
    """
    if dt <= 0:
        raise ValueError(f"dt must be positive, got {dt}")
    if prev.shape != cur.shape:
        raise ValueError(f"frame shapes differ: {prev.shape} vs {cur.shape}")
    flow = dense_flow(prev, cur, method)
    tx, ty, s, _r, res = fit_global(flow)
    width = float(prev.shape[1])
    mag = float(np.linalg.norm(flow, axis=-1).mean())  # whole frame: objects at the edges count
    resid = float(np.linalg.norm(res, axis=-1).mean())
    return GlobalMotion(pan_x=tx / width / dt, pan_y=ty / width / dt, zoom=s / dt,
                        residual=resid / width / dt, magnitude=mag / width / dt)
