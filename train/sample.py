"""Sampling from a checkpoint: prompt -> video with DDIM and classifier-free guidance.

The checkpoint carries its config, so the model and the frozen text encoder are rebuilt
exactly as trained (and the VAE that decodes latent samples); the EMA weights are
used (Ho et al. 2022 sample from the EMA).
Videos are written as H.264 mp4 (PyAV) with T = ``data.frames`` frames at
``data.fps`` frames/s, and optionally as a GIF.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from train.build import build_codec, build_model, sample_shape
from train.checkpoint import load_checkpoint
from train.config import TrainConfig
from train.diffusion import DDIMSampler, make_diffusion
from train.frozen import check_same_text, check_same_vae, load_weights
from train.latents import LatentCodec
from train.text import TextEncoder
from train.video_io import to_uint8_frames, write_gif, write_mp4


def load_for_sampling(checkpoint: str | Path, device: torch.device, use_ema: bool = True
                      ) -> tuple[nn.Module, TextEncoder, TrainConfig, LatentCodec | None]:
    """Rebuild (model in eval mode, text encoder, config, VAE codec or None) from a
    checkpoint file or run folder (its latest checkpoint). An inflated model is built
    from the image U-Net config saved in the checkpoint (no pretrained weights are
    read). Raises FileNotFoundError, or CheckpointError when the VAE at ``vae.name`` or the
    text encoder at ``text.name`` is not the one the model was trained with, or the weights
    do not fit the model the stored config builds (:mod:`train.frozen`)."""
    state = load_checkpoint(checkpoint)
    cfg = TrainConfig.model_validate(state["config"])
    with torch.random.fork_rng(devices=[]):  # as training builds it: an open_clip tower without
        torch.manual_seed(cfg.train.seed)  # pretrained weights is the same random one (a review)
        text = TextEncoder(cfg.text).to(device)
    codec = build_codec(cfg)
    check_same_vae(state, codec, cfg.vae.name if cfg.vae is not None else "")
    check_same_text(state, text, cfg.text.name or "")
    model = build_model(cfg, int(state["context_dim"]), codec, pretrained=False,
                        unet_config=state.get("unet_config"))
    load_weights(model, state["ema"]["module"] if use_ema else state["model"], "EMA" if use_ema else "model")
    return model.to(device).eval(), text, cfg, codec.to(device) if codec is not None else None


def sample_videos(model: nn.Module, text: TextEncoder, cfg: TrainConfig, prompts: list[str],
                  steps: int | None = None, guidance: float | None = None, seed: int = 0,
                  device: torch.device | None = None,
                  codec: LatentCodec | None = None) -> torch.Tensor:
    """DDIM samples for ``prompts``: (B, 3, T, H, W) float32 in [-1, 1], B = len(prompts);
    with ``codec`` drawn as latents and decoded through the VAE.

    ``steps``/``guidance`` default to ``diffusion.sample_steps``/``diffusion.guidance``.
    """
    device = device or next(model.parameters()).device
    param = make_diffusion(cfg.diffusion)
    sampler = DDIMSampler(param.schedule, cfg.diffusion.sample_steps if steps is None else steps,
                          cfg.diffusion.eta, param)
    cond = text.encode(prompts)
    null = text.encode([""] * len(prompts))
    shape = sample_shape(cfg, model, codec, len(prompts))
    generator = torch.Generator(device).manual_seed(seed)
    scale = cfg.diffusion.guidance if guidance is None else guidance
    out = sampler.sample(model, shape, cond, null, scale, generator, clip=codec is None)
    return codec.decode(out) if codec is not None else out


def write_video(video: torch.Tensor, path: str | Path, fps: float, gif: bool = False) -> list[Path]:
    """Write one (C, T, H, W) video in [-1, 1] to ``path`` (mp4) and, when ``gif``, to
    the same name with ``.gif`` (a ``path`` ending in ``.gif`` puts the mp4 beside it with
    ``.mp4``). A ``path`` ending in ``.gif`` without ``gif`` is a GIF alone (it had been
    MP4 bytes under a ``.gif`` name: found by a new-user walk-through). Returns the
    written paths."""
    frames = to_uint8_frames(video.detach().cpu().numpy())
    path = Path(path)
    if path.suffix.lower() == ".gif" and not gif:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_gif(path, frames, fps)
        return [path]
    if gif and path.suffix.lower() == ".gif":
        path = path.with_suffix(".mp4")
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
    model, text, cfg, codec = load_for_sampling(args.checkpoint, device)
    video = sample_videos(model, text, cfg, [args.prompt], args.steps, args.guidance,
                          args.seed, device, codec)
    for path in write_video(video[0], args.output, cfg.data.fps, args.gif):
        print(f"wrote {path}")
    return 0
