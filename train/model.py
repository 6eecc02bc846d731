"""The 3D U-Net of Ho et al. 2022, "Video Diffusion Models", sized from the config.

Encoder levels of residual blocks (1x3x3 convolutions) with spatial downsampling
(frames are never merged), a middle block, and a mirrored decoder with skip
connections. Levels listed in ``model.attention_levels`` follow each residual block
with spatial attention, cross-attention to text tokens and temporal attention with a
relative position bias (:mod:`train.layers`). The noise-level embedding is the
sinusoidal embedding of the timestep plus the masked mean of the text tokens, as in
Imagen-style conditioning.

Joint image-video training (Ho et al. 2022, sec. 3): ``forward(..., image_frames=K)``
treats the last K of the T frames as independent images by masking temporal attention
for them; ``image_frames=T`` is an image batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from train.config import ModelConfig
from train.layers import FrameGroupNorm, ResBlock, SpaceTimeAttention, conv_space, temporal_allowed, timestep_embedding


class UNetBlock(nn.Module):
    """A residual block optionally followed by space-time attention."""

    def __init__(self, c_in: int, c_out: int, cfg: ModelConfig, emb_dim: int,
                 context_dim: int, attention: bool):
        super().__init__()
        self.res = ResBlock(c_in, c_out, emb_dim, cfg.groups, cfg.dropout)
        self.attn = (SpaceTimeAttention(c_out, context_dim, cfg.heads, cfg.head_dim,
                                        cfg.max_temporal_distance) if attention else None)

    def forward(self, x, emb, context, mask, allowed):
        x = self.res(x, emb)
        return x if self.attn is None else self.attn(x, context, mask, allowed)


class Downsample(nn.Module):
    """Halve H and W with a strided 1x3x3 convolution; T unchanged."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv = conv_space(ch, ch, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double H and W (nearest) then a 1x3x3 convolution; T unchanged."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv = conv_space(ch, ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=(1, 2, 2), mode="nearest"))


class UNet3D(nn.Module):
    """Text-conditioned 3D U-Net (Ho et al. 2022).

    ``forward(x, t, context, mask, image_frames=0)``: x (B, C, T, H, W) float, t (B,)
    timesteps (float or int), context (B, L, D) float text tokens with D =
    ``context_dim``, mask (B, L) bool. Returns (B, C, T, H, W): the model's
    v-prediction. H and W must be divisible by 2 ** (levels - 1).
    """

    def __init__(self, cfg: ModelConfig, context_dim: int):
        super().__init__()
        self.cfg, self.context_dim = cfg, context_dim
        base, emb_dim = cfg.base_channels, 4 * cfg.base_channels
        self.time_mlp = nn.Sequential(nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.text_mlp = nn.Sequential(nn.Linear(context_dim, emb_dim), nn.SiLU(),
                                      nn.Linear(emb_dim, emb_dim))
        self.inp = conv_space(cfg.channels, base)
        block = lambda ci, co, lv: UNetBlock(ci, co, cfg, emb_dim, context_dim,  # noqa: E731
                                             lv in cfg.attention_levels)
        self.down, skips, ch = nn.ModuleList(), [base], base
        for lv, mult in enumerate(cfg.channel_mults):
            for _ in range(cfg.num_res_blocks):
                self.down.append(block(ch, base * mult, lv))
                ch = base * mult
                skips.append(ch)
            if lv < len(cfg.channel_mults) - 1:
                self.down.append(Downsample(ch))
                skips.append(ch)
        self.mid = nn.ModuleList([UNetBlock(ch, ch, cfg, emb_dim, context_dim, True),
                                  UNetBlock(ch, ch, cfg, emb_dim, context_dim, False)])
        self.up = nn.ModuleList()
        for lv in reversed(range(len(cfg.channel_mults))):
            for _ in range(cfg.num_res_blocks + 1):
                self.up.append(block(ch + skips.pop(), base * cfg.channel_mults[lv], lv))
                ch = base * cfg.channel_mults[lv]
            if lv > 0:
                self.up.append(Upsample(ch))
        self.out = nn.Sequential(FrameGroupNorm(cfg.groups, ch), nn.SiLU(), conv_space(ch, cfg.channels))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def embed(self, t: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, 4 * base) conditioning: timestep MLP + MLP of the masked mean text token."""
        weights = mask.to(context.dtype)[..., None]
        pooled = (context * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        temb = timestep_embedding(t, self.cfg.base_channels)
        return self.time_mlp(temb) + self.text_mlp(pooled)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor,
                mask: torch.Tensor, image_frames: int = 0) -> torch.Tensor:
        factor = 2 ** (len(self.cfg.channel_mults) - 1)
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(f"H, W {tuple(x.shape[-2:])} must be divisible by {factor}")
        emb = self.embed(t, context, mask)
        allowed = temporal_allowed(x.shape[2], image_frames, x.device)
        h = self.inp(x)
        skips = [h]
        for layer in self.down:
            h = layer(h) if isinstance(layer, Downsample) else layer(h, emb, context, mask, allowed)
            skips.append(h)
        for layer in self.mid:
            h = layer(h, emb, context, mask, allowed)
        for layer in self.up:
            if isinstance(layer, Upsample):
                h = layer(h)
            else:
                h = layer(torch.cat([h, skips.pop()], dim=1), emb, context, mask, allowed)
        return self.out(h)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
