"""Store a clip's frame sample on disk between phases (JPEG inside an ``.npz``, no pickle).

Captioning runs after dedup, in a later phase than extraction; rather than decode the
clip again, the extract stage saves its frame sample here and the caption stage
loads it. JPEG at quality 92 keeps a 8-frame 224-px sample near 150 KB.
"""

from __future__ import annotations

import os
import uuid

import cv2
import numpy as np


def save_frames(path: str, frames: np.ndarray, times: list[float]) -> None:
    """Save ``frames`` ``(N, H, W, 3) uint8`` RGB and their ``times`` (seconds) to ``path``.

    Written under a temporary name, then renamed. Raises ValueError on a bad shape.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected (N, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    blobs = []
    for img in frames:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise ValueError("JPEG encoding failed")
        blobs.append(buf.ravel())
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    tmp = f"{path}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part.npz"
    np.savez(tmp, data=np.concatenate(blobs) if blobs else np.zeros(0, np.uint8),
             offsets=offsets, times=np.asarray(times, dtype=np.float64))
    os.replace(tmp, path)


def load_frames(path: str) -> tuple[np.ndarray, list[float]]:
    """Load a sample saved by :func:`save_frames`: ``((N, H, W, 3) uint8 RGB, times)``."""
    with np.load(path, allow_pickle=False) as z:
        data, offsets, times = z["data"], z["offsets"], z["times"].tolist()
    imgs = [cv2.cvtColor(cv2.imdecode(data[a:b], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            for a, b in zip(offsets[:-1], offsets[1:])]
    return (np.stack(imgs) if imgs else np.zeros((0, 1, 1, 3), np.uint8)), times
