"""Build the denoiser and the optional VAE from a config, and check they fit together.

Three set-ups share one trainer:

- pixel space: the 3D U-Net of Ho et al. 2022 (:class:`train.model.UNet3D`) on frames;
- latent space (``vae``): the same U-Net on VAE latents (:mod:`train.latents`);
- inflated (``inflate``, usually with ``vae``): a pretrained image U-Net with temporal
  layers (:mod:`train.inflate`).

Every model has ``forward(x, t, context, mask, image_frames=0)`` and the attributes
``channels`` (input channels) and ``context_dim`` (text token width).
"""

from __future__ import annotations

from torch import nn

from train.config import ConfigError, TrainConfig
from train.inflate import InflatedUNet
from train.latents import LatentCodec
from train.model import UNet3D


def build_codec(cfg: TrainConfig) -> LatentCodec | None:
    """The frozen VAE of ``cfg.vae`` (None for pixel-space training)."""
    return LatentCodec.from_config(cfg.vae) if cfg.vae is not None else None


def build_model(cfg: TrainConfig, context_dim: int, codec: LatentCodec | None = None,
                pretrained: bool = True, unet_config: str | None = None) -> nn.Module:
    """The denoiser of ``cfg``; for ``inflate`` from the pretrained image U-Net (or,
    with ``pretrained=False``, its saved ``unet_config`` JSON, to load a checkpoint).
    Raises ConfigError when text width, channels or sizes do not fit."""
    if cfg.inflate is not None:
        model = InflatedUNet.build(cfg.inflate, pretrained, unet_config)
        factor = model.factor
    else:
        model = UNet3D(cfg.model, context_dim)
        model.channels = cfg.model.channels
        factor = 2 ** (len(cfg.model.channel_mults) - 1)
    if model.context_dim != context_dim:
        raise ConfigError(f"text encoder gives {context_dim}-wide tokens, the model's "
                          f"cross-attention takes {model.context_dim}")
    check_sizes(cfg, model.channels, factor, codec)
    return model


def check_sizes(cfg: TrainConfig, channels: int, factor: int, codec: LatentCodec | None) -> None:
    """Raise ConfigError unless the model's input channels match the data (3 pixels or
    the VAE's latent channels) and the (latent) frame size divides by its ``factor``."""
    d = cfg.data
    want, vae_f = (codec.channels, codec.factor) if codec is not None else (3, 1)
    if channels != want:
        what = "VAE latent" if codec is not None else "RGB"
        raise ConfigError(f"model takes {channels} input channels, the data has {want} ({what})")
    step = vae_f * factor
    if d.height % step or d.width % step:
        raise ConfigError(f"data.height and data.width must be multiples of {step} "
                          f"(VAE factor {vae_f} x U-Net factor {factor})")


def sample_shape(cfg: TrainConfig, model: nn.Module, codec: LatentCodec | None,
                 batch: int) -> tuple[int, int, int, int, int]:
    """(B, C, T, H, W) of the diffusion variable: pixels, or latents of H/f x W/f."""
    d = cfg.data
    f = codec.factor if codec is not None else 1
    return (batch, model.channels, d.frames, d.height // f, d.width // f)
