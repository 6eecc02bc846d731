"""A video model inflated from a pretrained text-to-image U-Net (Singer et al. 2022,
"Make-A-Video", sec. 3.2; the same idea as Blattmann et al. 2023, "Align your Latents").

The image model is a diffusers ``UNet2DConditionModel`` (e.g. Stable Diffusion's). Its
spatial layers are kept as they are and run on every frame (B*T images); new temporal
layers are inserted into its blocks:

- after every spatial residual block, a 1D convolution across frames at each pixel
  (the temporal half of Make-A-Video's pseudo-3D convolution), residual, GroupNorm-
  SiLU-conv with the convolution zero-initialised;
- after every spatial transformer (self- and cross-attention), attention across
  frames at each pixel with a relative position bias (:class:`train.layers.
  TemporalAttention`), residual with a zero-initialised output projection.

Both start as the identity, so at initialisation the video model gives exactly the
image model's output on every frame. Joint image-video training (Ho et al. 2022):
the last K of T frames are independent images; temporal attention is masked for them
and the temporal convolution skips them. ``train_spatial: false`` freezes the
pretrained layers (only the temporal ones train). The text tokens are the image
model's own CLIP text tower (``text.encoder: clip``), attended without a padding mask,
as the image model was trained.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from train.config import InflateConfig
from train.layers import TemporalAttention, temporal_allowed


class FrameLayout:
    """Shared by the temporal layers of one model: frames per video ``frames``, of
    which the first ``video`` are a video and the rest images; ``allowed`` (T, T) bool."""

    frames: int = 1
    video: int = 1
    allowed: torch.Tensor | None = None


class TemporalConv(nn.Module):
    """(B*T, C, H, W) -> same: x + conv1d_t(SiLU(GroupNorm(x))) over the video frames
    at each pixel; zero-initialised, so the identity at first. Image frames pass."""

    def __init__(self, channels: int, groups: int, kernel: int, layout: FrameLayout):
        super().__init__()
        self.layout = layout
        self.norm = nn.GroupNorm(groups, channels)
        self.conv = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        t, tv = self.layout.frames, self.layout.video
        if tv == 0:
            return h
        bt, c, hh, ww = h.shape
        x = h.view(bt // t, t, c, hh, ww)
        v = x[:, :tv]
        seq = v.permute(0, 3, 4, 2, 1).reshape(-1, c, tv)  # (B*H*W, C, Tv)
        delta = self.conv(F.silu(self.norm(seq)))
        v = v + delta.view(bt // t, hh, ww, c, tv).permute(0, 4, 3, 1, 2)
        return torch.cat([v, x[:, tv:]], dim=1).reshape(bt, c, hh, ww)


class TemporalAttn(nn.Module):
    """(B*T, C, H, W) -> same: temporal attention across frames at each pixel."""

    def __init__(self, channels: int, head_dim: int, max_distance: int, layout: FrameLayout):
        super().__init__()
        self.layout = layout
        heads = max(1, channels // head_dim)
        self.attn = TemporalAttention(channels, heads, channels // heads, max_distance)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        t = self.layout.frames
        bt, c, hh, ww = h.shape
        x = h.view(bt // t, t, c, hh, ww).transpose(1, 2)
        x = self.attn(x, self.layout.allowed)
        return x.transpose(1, 2).reshape(bt, c, hh, ww)


class Inflated(nn.Module):
    """A pretrained block (``spatial``) followed by a temporal layer; passes through
    the block's call signature and output (tensor, tuple or output object)."""

    def __init__(self, spatial: nn.Module, temporal: nn.Module):
        super().__init__()
        self.spatial, self.temporal = spatial, temporal

    def forward(self, *args, **kwargs):
        out = self.spatial(*args, **kwargs)
        if isinstance(out, torch.Tensor):
            return self.temporal(out)
        if isinstance(out, tuple):
            return (self.temporal(out[0]),) + tuple(out[1:])
        out.sample = self.temporal(out.sample)
        return out


def inflate_unet(unet: nn.Module, cfg: InflateConfig, layout: FrameLayout) -> int:
    """Insert temporal layers into ``unet``'s down, mid and up blocks in place; returns
    how many were inserted."""
    groups = int(unet.config.norm_num_groups)
    blocks = [*unet.down_blocks, *([unet.mid_block] if unet.mid_block is not None else []),
              *unet.up_blocks]
    count = 0
    for block in blocks:
        for i, res in enumerate(block.resnets):
            conv = TemporalConv(res.out_channels, groups, cfg.temporal_kernel, layout)
            block.resnets[i] = Inflated(res, conv)
            count += 1
        for i, attn in enumerate(getattr(block, "attentions", None) or []):
            temporal = TemporalAttn(attn.in_channels, cfg.temporal_head_dim,
                                    cfg.max_temporal_distance, layout)
            block.attentions[i] = Inflated(attn, temporal)
            count += 1
    return count


class InflatedUNet(nn.Module):
    """Video model from an image ``UNet2DConditionModel`` (see the module docstring).

    ``forward(x, t, context, mask, image_frames=0)`` as :class:`train.model.UNet3D`: x
    (B, C, T, H, W) float, t (B,) timesteps, context (B, L, D) text tokens (D =
    ``context_dim``; ``mask`` is accepted and unused), returns (B, C, T, H, W).
    """

    def __init__(self, unet: nn.Module, cfg: InflateConfig):
        super().__init__()
        conf = unet.config
        if conf.out_channels != conf.in_channels:
            raise ValueError(f"image U-Net has {conf.in_channels} input and {conf.out_channels} "
                             "output channels; inflation needs the same number")
        if not isinstance(conf.cross_attention_dim, int):
            raise ValueError("image U-Net with per-block cross_attention_dim is not supported")
        self.unet_config = unet.to_json_string()
        unet.requires_grad_(cfg.train_spatial)
        self.layout = FrameLayout()
        self.unet = unet
        self.temporal_layers = inflate_unet(unet, cfg, self.layout)
        self.channels, self.context_dim = int(conf.in_channels), int(conf.cross_attention_dim)
        self.factor = 2 ** (len(conf.block_out_channels) - 1)

    @classmethod
    def build(cls, cfg: InflateConfig, pretrained: bool = True, unet_config: str | None = None):
        """From the pretrained weights of ``cfg.name`` (hub id or folder), or with
        ``pretrained=False`` an untrained model of ``unet_config`` (the JSON that
        :attr:`unet_config` holds, as a checkpoint saves it). Raises FileNotFoundError."""
        import json

        from diffusers import UNet2DConditionModel

        from curate.hub import from_pretrained, load_failure

        if not pretrained:
            return cls(UNet2DConditionModel.from_config(json.loads(unet_config)), cfg)
        try:
            unet = from_pretrained(UNet2DConditionModel, cfg.name, subfolder=cfg.subfolder or None)
        except (OSError, ValueError) as err:
            sub = f" (subfolder {cfg.subfolder!r})" if cfg.subfolder else ""
            raise FileNotFoundError(f"inflate.name {cfg.name!r}{sub}: "
                                    f"{load_failure(cfg.name, err)}") from None
        return cls(unet, cfg)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor,
                mask: torch.Tensor | None = None, image_frames: int = 0) -> torch.Tensor:
        b, c, frames, h, w = x.shape
        if h % self.factor or w % self.factor:
            raise ValueError(f"H, W {(h, w)} must be divisible by {self.factor}")
        self.layout.frames, self.layout.video = frames, frames - image_frames
        self.layout.allowed = temporal_allowed(frames, image_frames, x.device)
        images = x.transpose(1, 2).reshape(b * frames, c, h, w)
        t = t.reshape(-1).expand(b) if t.numel() in (1, b) else t
        out = self.unet(images, t.repeat_interleave(frames),
                        encoder_hidden_states=context.repeat_interleave(frames, dim=0),
                        return_dict=False)[0]
        return out.view(b, frames, c, h, w).transpose(1, 2)
