"""Throughput and model FLOPs utilisation (MFU; Chowdhery et al. 2022, "PaLM", app. B).

MFU = (model FLOPs per training sample x samples/s) / peak FLOP/s of the device. Model
FLOPs (forward + backward of the U-Net, text encoder excluded) are counted once with
``torch.utils.flop_counter.FlopCounterMode`` on a batch of one. The peak is the dense
bf16 figure of the GPU (table below, by device name) or ``VIDCURATE_PEAK_TFLOPS``.
"""

from __future__ import annotations

import os
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

# dense bf16 tensor-core peak, TFLOP/s (vendor datasheets, SXM parts)
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0,
                    "A10": 125.0, "4090": 165.0, "V100": 125.0}


def peak_flops(device: torch.device) -> float | None:
    """Peak FLOP/s of ``device`` (CUDA only), or None when unknown."""
    env = os.environ.get("VIDCURATE_PEAK_TFLOPS")
    if env:
        return float(env) * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, tflops in PEAK_BF16_TFLOPS.items():
        if key in name:
            return tflops * 1e12
    return None


def train_flops_per_sample(model: torch.nn.Module, video_shape: tuple[int, int, int, int],
                           context_len: int, image_frames: int = 0) -> float:
    """FLOPs of one forward + backward of ``model`` for one (C, T, H, W) sample with
    ``context_len`` text tokens. Gradients are cleared afterwards."""
    p = next(model.parameters())
    x = torch.zeros((1, *video_shape), device=p.device, requires_grad=False)
    t = torch.zeros(1, device=p.device, dtype=torch.long)
    ctx = torch.zeros(1, context_len, model.context_dim, device=p.device)
    mask = torch.ones(1, context_len, dtype=torch.bool, device=p.device)
    with FlopCounterMode(display=False) as counter:
        model(x, t, ctx, mask, image_frames=image_frames).sum().backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


class Throughput:
    """Samples per second between calls of :meth:`lap` (synchronises CUDA)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.samples = 0
        self.start = time.perf_counter()

    def add(self, samples: int) -> None:
        """Count ``samples`` processed since the last lap."""
        self.samples += samples

    def lap(self) -> float:
        """Samples/s since the previous lap; resets the counters."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        rate = self.samples / max(now - self.start, 1e-9)
        self.samples, self.start = 0, now
        return rate
