"""Sampling from a checkpoint: prompt -> video with DDIM and classifier-free guidance.

The checkpoint carries its config, so the model and the frozen text encoder are rebuilt
exactly as trained; the EMA weights are used (Ho et al. 2022 sample from the EMA).
Videos are written as H.264 mp4 (PyAV) with T = ``data.frames`` frames at
``data.fps`` frames/s, and optionally as a GIF.
"""

from __future__ import annotations

from pathlib import Path

import torch

from train.checkpoint import load_checkpoint
from train.config import TrainConfig
from train.diffusion import CosineSchedule, DDIMSampler
from train.model import UNet3D
from train.text import TextEncoder
from train.video_io import to_uint8_frames, write_gif, write_mp4


def load_for_sampling(checkpoint: str | Path, device: torch.device,
                      use_ema: bool = True) -> tuple[UNet3D, TextEncoder, TrainConfig]:
    """Rebuild (model in eval mode, text encoder, config) from a checkpoint file or run
    folder (its latest checkpoint). Raises FileNotFoundError."""
    state = load_checkpoint(checkpoint)
    cfg = TrainConfig.model_validate(state["config"])
    text = TextEncoder(cfg.text).to(device)
    model = UNet3D(cfg.model, int(state["context_dim"]))
    model.load_state_dict(state["ema"]["module"] if use_ema else state["model"])
    return model.to(device).eval(), text, cfg


def sample_videos(model: UNet3D, text: TextEncoder, cfg: TrainConfig, prompts: list[str],
                  steps: int | None = None, guidance: float | None = None, seed: int = 0,
                  device: torch.device | None = None) -> torch.Tensor:
    """DDIM samples for ``prompts``: (B, C, T, H, W) float32 in [-1, 1], B = len(prompts).

    ``steps``/``guidance`` default to ``diffusion.sample_steps``/``diffusion.guidance``.
    """
    device = device or next(model.parameters()).device
    d = cfg.data
    sampler = DDIMSampler(CosineSchedule(cfg.diffusion.timesteps, cfg.diffusion.cosine_s),
                          steps or cfg.diffusion.sample_steps, cfg.diffusion.eta)
    cond = text.encode(prompts)
    null = text.encode([""] * len(prompts))
    shape = (len(prompts), cfg.model.channels, d.frames, d.height, d.width)
    generator = torch.Generator(device).manual_seed(seed)
    scale = cfg.diffusion.guidance if guidance is None else guidance
    return sampler.sample(model, shape, cond, null, scale, generator)


def write_video(video: torch.Tensor, path: str | Path, fps: float, gif: bool = False) -> list[Path]:
    """Write one (C, T, H, W) video in [-1, 1] to ``path`` (mp4) and, when ``gif``, to
    the same name with ``.gif``. Returns the written paths."""
    frames = to_uint8_frames(video.detach().cpu().numpy())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(path, frames, fps)
    written = [path]
    if gif:
        gif_path = path.with_suffix(".gif")
        write_gif(gif_path, frames, fps)
        written.append(gif_path)
    return written


def sample_command(args) -> int:
    """``sample`` subcommand: --checkpoint --prompt --output [--steps --guidance --seed
    --gif]. Returns 0 on success."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model, text, cfg = load_for_sampling(args.checkpoint, device)
    video = sample_videos(model, text, cfg, [args.prompt], args.steps, args.guidance,
                          args.seed, device)
    for path in write_video(video[0], args.output, cfg.data.fps, args.gif):
        print(f"wrote {path}")
    return 0
