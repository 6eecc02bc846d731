"""Latent video diffusion: clips through a frozen image VAE (Rombach et al. 2022,
"High-Resolution Image Synthesis with Latent Diffusion Models").

The VAE is a diffusers ``AutoencoderKL`` (e.g. Stable Diffusion's) loaded by hub id or
local folder (``vae.name``, ``vae.subfolder``); with ``HF_HUB_OFFLINE=1`` a hub id is
read from the local cache. Frames are encoded one by one (the VAE is an image model;
time is never mixed), and latents are the posterior mean, shifted and scaled as the
VAE's config says: z = (mean - shift_factor) * scaling_factor, so they have roughly
unit variance (0.18215 for Stable Diffusion 1.x/2.x). Decoding inverts both steps.
The posterior mean (not a sample) makes encoding deterministic, so latents encoded on
the fly and latents precomputed into the shards (:mod:`train.latent_shards`) agree.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from train.config import VaeConfig
from train.frozen import weights_fingerprint


def load_vae(cfg: VaeConfig):
    """The ``AutoencoderKL`` of ``cfg`` (hub id or local folder; a hub id from the local hub
    cache alone while the hub cannot be reached, :mod:`curate.hub`). Raises
    FileNotFoundError naming ``vae.name`` when it cannot be found or read."""
    from diffusers import AutoencoderKL

    from curate.hub import from_pretrained, load_failure

    try:
        return from_pretrained(AutoencoderKL, cfg.name, subfolder=cfg.subfolder)
    except (OSError, ValueError) as err:
        sub = f" (subfolder {cfg.subfolder!r})" if cfg.subfolder else ""
        raise FileNotFoundError(f"vae.name {cfg.name!r}{sub}: "
                                f"{load_failure(cfg.name, err)}") from None


class LatentCodec(nn.Module):
    """Frozen VAE: videos (B, 3, T, H, W) float in [-1, 1] <-> latents
    (B, C, T, H / f, W / f) float32, C = :attr:`channels`, f = :attr:`factor`
    (8 for Stable Diffusion's VAE). ``scaling_factor`` None = the VAE config's."""

    def __init__(self, vae, scaling_factor: float | None = None, encode_batch: int = 16):
        super().__init__()
        self.vae = vae.eval().requires_grad_(False)
        conf = vae.config
        self.scaling_factor = float(scaling_factor if scaling_factor is not None
                                    else conf.scaling_factor)
        self.shift_factor = float(getattr(conf, "shift_factor", None) or 0.0)
        self.channels = int(conf.latent_channels)
        self.factor = 2 ** (len(conf.block_out_channels) - 1)
        self.encode_batch = encode_batch

    @functools.cached_property
    def fingerprint(self) -> str:
        """16 hex digits of SHA-256 over the VAE's weights: which VAE made stored latents,
        whatever its folder is called (a VAE replaced at the same path had been taken for
        the old one: a break test): :func:`train.frozen.weights_fingerprint` of the VAE as
        loaded (:func:`load_vae` keeps the file's float32). About 0.5 s for Stable
        Diffusion's 84 M-parameter VAE; once per codec."""
        return weights_fingerprint(self.vae)

    @classmethod
    def from_config(cls, cfg: VaeConfig) -> "LatentCodec":
        """Load ``cfg.name`` (see :func:`load_vae`) and wrap it."""
        return cls(load_vae(cfg), cfg.scaling_factor, cfg.encode_batch)

    def train(self, mode: bool = True) -> "LatentCodec":
        """The VAE is frozen: it always stays in eval mode."""
        return super().train(False)

    def _frames(self, fn, x: torch.Tensor) -> torch.Tensor:
        """Apply ``fn`` to the (B*T, C, H, W) frames of x (B, C, T, H, W) in chunks."""
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        out = torch.cat([fn(chunk) for chunk in frames.split(self.encode_batch)])
        return out.view(b, t, *out.shape[1:]).transpose(1, 2)

    @torch.no_grad()
    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1] -> scaled latents (B, C, T, H/f, W/f) float32.
        Raises ValueError when H or W is not a multiple of f."""
        if video.shape[-1] % self.factor or video.shape[-2] % self.factor:
            raise ValueError(f"H, W {tuple(video.shape[-2:])} must be multiples of the VAE's "
                             f"downsampling factor {self.factor}")
        dtype = next(self.vae.parameters()).dtype

        def enc(frames: torch.Tensor) -> torch.Tensor:
            mean = self.vae.encode(frames.to(dtype)).latent_dist.mode()
            return (mean.float() - self.shift_factor) * self.scaling_factor

        return self._frames(enc, video)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents (B, C, T, h, w) -> videos (B, 3, T, h*f, w*f) float32 in [-1, 1]."""
        dtype = next(self.vae.parameters()).dtype

        def dec(z: torch.Tensor) -> torch.Tensor:
            z = z.float() / self.scaling_factor + self.shift_factor
            return self.vae.decode(z.to(dtype)).sample.float()

        return self._frames(dec, latents).clamp(-1, 1)
