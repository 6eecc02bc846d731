"""Training throughput of the bundled 3D U-Net against lucidrains' ``Unet3D``.

For the ``tiny`` and ``small`` configs this measures training samples/s of one full
optimiser step (forward, v-prediction MSE, backward, AdamW) on synthetic inputs of the
config's size, for our :class:`train.model.UNet3D` and, in the same run, for
``video_diffusion_pytorch.Unet3D`` (PyPI ``video-diffusion-pytorch``) with the same
levels, heads and head width and its ``dim`` chosen to match our parameter count.
Both get the same video size, batch, optimiser and precision (bf16 autocast on CUDA,
fp32 on CPU); the text encoder and data loading are left out (ours gets random
384-wide tokens, theirs a random 384-wide vector, its native conditioning). Prints
samples/s (batch / median step time; the two models' steps are timed in turn, so load
from other processes hits both alike), the ratio ours/theirs, and on CUDA the model
FLOPs utilisation (MFU) of each, from FLOPs counted with ``torch.utils.flop_counter``.

Usage: ``python bench/train_step.py [--configs tiny small] [--seconds 30] [--batch N]
[--warmup 2]``
(a few minutes on a 2-core CPU with the defaults).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train.config import load_config  # noqa: E402
from train.metrics import peak_flops  # noqa: E402
from train.model import UNet3D, count_parameters  # noqa: E402

CONTEXT_DIM, CONTEXT_LEN = 384, 16
CPU_BATCH = {"tiny": 4, "small": 1}


def lucidrains_matched(cfg, target: int):
    """lucidrains Unet3D with our levels/heads and the ``dim`` whose parameter count is
    closest to ``target``. Returns (model, dim)."""
    from video_diffusion_pytorch import Unet3D

    def build(dim):
        return Unet3D(dim=dim, cond_dim=CONTEXT_DIM, dim_mults=tuple(cfg.channel_mults),
                      attn_heads=cfg.heads, attn_dim_head=cfg.head_dim)

    def params(dim):
        with torch.device("meta"):
            return count_parameters(build(dim))

    best = min(range(8, 257, 4), key=lambda d: abs(params(d) - target))
    torch.manual_seed(0)
    return build(best), best


class Ours(torch.nn.Module):
    """Adapter: (x, t) -> v-prediction with fixed random text tokens."""

    def __init__(self, model: UNet3D, batch: int, device):
        super().__init__()
        self.model = model
        self.ctx = torch.randn(batch, CONTEXT_LEN, CONTEXT_DIM, device=device)
        self.mask = torch.ones(batch, CONTEXT_LEN, dtype=torch.bool, device=device)

    def forward(self, x, t):
        return self.model(x, t, self.ctx[: x.shape[0]], self.mask[: x.shape[0]])


class Theirs(torch.nn.Module):
    """Adapter: (x, t) -> output of lucidrains Unet3D with a fixed random condition."""

    def __init__(self, model, batch: int, device):
        super().__init__()
        self.model = model
        self.cond = torch.randn(batch, CONTEXT_DIM, device=device)

    def forward(self, x, t):
        return self.model(x, t.float(), cond=self.cond[: x.shape[0]])


def autocast(device):
    """bf16 autocast on CUDA, nothing elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def step_fn(net, opt, x, target, t, device):
    """A closure running one optimiser step of MSE(net(x, t), target)."""
    def step():
        opt.zero_grad(set_to_none=True)
        with autocast(device):
            loss = torch.nn.functional.mse_loss(net(x, t).float(), target)
        loss.backward()
        opt.step()
    return step


def prepare(net, shape, device, warmup: int):
    """(training step callable, FLOPs per sample) for ``net`` on random (B, C, T, H, W),
    after 1 + ``warmup`` untimed steps (allocator and kernel caches settle)."""
    net.to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    x, target = torch.randn(shape, device=device), torch.randn(shape, device=device)
    t = torch.randint(0, 1000, (shape[0],), device=device)
    step = step_fn(net, opt, x, target, t, device)
    with FlopCounterMode(display=False) as counter:
        step()
    for _ in range(warmup):
        step()
    return step, counter.get_total_flops() / shape[0]


def timed(step, device) -> float:
    """Seconds of one training step."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    step()
    sync()
    return time.perf_counter() - start


def interleaved(steps: list, device, seconds: float, min_steps: int = 2) -> list[float]:
    """Median step time of each callable, timing them in turn (A, B, A, B, ...) so that
    a machine shared with other work slows both alike."""
    times: list[list[float]] = [[] for _ in steps]
    start = time.perf_counter()
    while len(times[0]) < min_steps or time.perf_counter() - start < seconds:
        for i, step in enumerate(steps):
            times[i].append(timed(step, device))
    return [statistics.median(ts) for ts in times]


def bench_config(name: str, device, seconds: float, batch: int | None, warmup: int) -> None:
    """Measure and print both models at the size of bundled config ``name``."""
    cfg = load_config(name)
    b = batch or (cfg.optim.batch_size if device.type == "cuda" else CPU_BATCH[name])
    d = cfg.data
    shape = (b, cfg.model.channels, d.frames, d.height, d.width)
    torch.manual_seed(0)
    ours = UNet3D(cfg.model, CONTEXT_DIM)
    theirs, dim = lucidrains_matched(cfg.model, count_parameters(ours))
    nets = {"vidcurate UNet3D": Ours(ours, b, device),
            f"lucidrains Unet3D dim={dim}": Theirs(theirs, b, device)}
    prepared = [prepare(net, shape, device, warmup) for net in nets.values()]
    medians = interleaved([step for step, _ in prepared], device, seconds)
    peak = peak_flops(device)
    print(f"\n[{name}] video {tuple(shape[1:])} batch {b} on {device}")
    rates = []
    for (label, net), (_, flops), median in zip(nets.items(), prepared, medians):
        rate = b / median
        rates.append(rate)
        mfu = f"  MFU {flops * rate / peak:6.1%}" if peak else ""
        print(f"  {label:30s} {count_parameters(net.model) / 1e6:7.2f}M params  "
              f"{flops / 1e9:8.2f} GFLOP/sample  {rate:8.3f} samples/s{mfu}")
    print(f"  ratio ours/lucidrains: {rates[0] / rates[1]:.2f}x samples/s")


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "small"])
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="timed seconds per config (both models, interleaved)")
    parser.add_argument("--batch", type=int, default=None, help="override the batch size")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {device}")
    for name in args.configs:
        bench_config(name, device, args.seconds, args.batch, args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
