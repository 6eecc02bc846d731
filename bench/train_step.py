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

The latent and inflated set-ups (``--configs latent-small inflate-sd15``) are measured
on latents of the config's size (4 x T x H/8 x W/8; the frozen VAE and text encoder are
left out) against diffusers' ``UNet3DConditionModel`` (the ModelScope text-to-video
U-Net, the closest public implementation of an inflated SD U-Net) with its base width
chosen to match our total parameter count. ``inflate-sd15`` inflates a randomly
initialised U-Net of Stable Diffusion 1.5's architecture (no weights are read), trained
as the config says (spatial layers frozen); ``--width-scale 0.125`` shrinks every width
for a CPU run.

Usage: ``python bench/train_step.py [--configs tiny small] [--seconds 30] [--batch N]
[--warmup 2] [--width-scale 1.0] [--train-spatial]``
(a few minutes on a 2-core CPU with the defaults).
"""

from __future__ import annotations

import argparse
import contextlib
import math
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
# Stable Diffusion 1.5's UNet2DConditionModel (its published unet/config.json)
SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768,
                 attention_head_dim=8, norm_num_groups=32,
                 down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)


def total_parameters(model: torch.nn.Module) -> int:
    """All parameters, frozen ones included."""
    return sum(p.numel() for p in model.parameters())


def diffusers_unet3d_matched(mults, layers: int, context_dim: int, heads: int, groups: int,
                             target: int):
    """diffusers ``UNet3DConditionModel`` with block widths ``base * mults`` and the base
    (a multiple of ``groups`` and ``heads``; diffusers' UNet3D takes its
    ``attention_head_dim`` as the number of heads, as SD's config does) whose parameter
    count is closest to ``target``. Returns (model, base)."""
    from diffusers import UNet3DConditionModel

    n = len(mults)

    def build(base):
        return UNet3DConditionModel(
            in_channels=4, out_channels=4, layers_per_block=layers,
            block_out_channels=tuple(base * m for m in mults), norm_num_groups=groups,
            down_block_types=("CrossAttnDownBlock3D",) * (n - 1) + ("DownBlock3D",),
            up_block_types=("UpBlock3D",) + ("CrossAttnUpBlock3D",) * (n - 1),
            cross_attention_dim=context_dim, attention_head_dim=heads)

    def params(base):
        with torch.device("meta"):
            return total_parameters(build(base))

    step = math.lcm(groups, heads)
    best = min(range(step, 1281, step), key=lambda b: abs(params(b) - target))
    torch.manual_seed(0)
    return build(best), best


class Diffusers3D(torch.nn.Module):
    """Adapter: (x, t) -> output of diffusers UNet3DConditionModel with random tokens."""

    def __init__(self, model, batch: int, context_dim: int, device):
        super().__init__()
        self.model = model
        self.ctx = torch.randn(batch, CONTEXT_LEN, context_dim, device=device)

    def forward(self, x, t):
        return self.model(x, t, encoder_hidden_states=self.ctx[: x.shape[0]]).sample


def latent_models(name: str, b: int, device, width_scale: float, train_spatial: bool = False):
    """(shape, {label: adapter}) for a ``latent-*`` or ``inflate-*`` config."""
    cfg = load_config(name)
    if cfg.inflate is not None and train_spatial:
        cfg.inflate.train_spatial = True
    d = cfg.data
    shape = (b, 4, d.frames, d.height // 8, d.width // 8)
    torch.manual_seed(0)
    if cfg.inflate is None:
        ours = UNet3D(cfg.model, CONTEXT_DIM)
        ctx_dim, mults, layers = CONTEXT_DIM, cfg.model.channel_mults, cfg.model.num_res_blocks
        heads, groups, label = cfg.model.heads, 32, "vidcurate UNet3D (latent)"
    else:
        from diffusers import UNet2DConditionModel

        from train.inflate import InflatedUNet

        widths = tuple(max(32, int(c * width_scale) // 32 * 32)
                       for c in SD15_UNET["block_out_channels"])
        unet = UNet2DConditionModel(**{**SD15_UNET, "block_out_channels": widths})
        ours = InflatedUNet(unet, cfg.inflate)
        ctx_dim, mults, layers = 768, [w // widths[0] for w in widths], 2
        heads, groups, label = 8, 32, "vidcurate inflated SD1.5-arch"
    ours.context_dim = ctx_dim
    theirs, base = diffusers_unet3d_matched(mults, layers, ctx_dim, heads, groups,
                                            total_parameters(ours))
    nets = {label: Ours(ours, b, device, ctx_dim),
            f"diffusers UNet3DConditionModel base={base}": Diffusers3D(theirs, b, ctx_dim, device)}
    return shape, nets


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

    def __init__(self, model: torch.nn.Module, batch: int, device, context_dim: int = CONTEXT_DIM):
        super().__init__()
        self.model = model
        self.ctx = torch.randn(batch, CONTEXT_LEN, context_dim, device=device)
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


def bench_config(name: str, device, seconds: float, batch: int | None, warmup: int,
                 width_scale: float = 1.0, train_spatial: bool = False) -> None:
    """Measure and print both models at the size of bundled config ``name``."""
    cfg = load_config(name)
    b = batch or (cfg.optim.batch_size if device.type == "cuda" else CPU_BATCH.get(name, 1))
    if cfg.vae is not None or cfg.inflate is not None:
        shape, nets = latent_models(name, b, device, width_scale, train_spatial)
    else:
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
        print(f"  {label:44s} {total_parameters(net.model) / 1e6:8.2f}M params "
              f"({count_parameters(net.model) / 1e6:.2f}M trained)  "
              f"{flops / 1e9:8.2f} GFLOP/sample  {rate:8.3f} samples/s{mfu}")
    print(f"  ratio ours/theirs: {rates[0] / rates[1]:.2f}x samples/s")


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "small"])
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="timed seconds per config (both models, interleaved)")
    parser.add_argument("--batch", type=int, default=None, help="override the batch size")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model")
    parser.add_argument("--width-scale", type=float, default=1.0,
                        help="scale SD1.5's widths for inflate-* (0.125 for a CPU run)")
    parser.add_argument("--train-spatial", action="store_true",
                        help="inflate-*: train the pretrained layers too (as the baseline does)")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {device}")
    for name in args.configs:
        bench_config(name, device, args.seconds, args.batch, args.warmup, args.width_scale,
                     args.train_spatial)
    return 0


if __name__ == "__main__":
    sys.exit(main())
