"""Building blocks of the 3D U-Net of Ho et al. 2022, "Video Diffusion Models".

The paper factorises space and time: every 3x3 convolution becomes a 1x3x3 (space
only) convolution, spatial attention runs within each frame, and temporal attention
runs across frames at each spatial position with a relative position bias. Text
conditions the network through cross-attention to token embeddings. Tensors are
(B, C, T, H, W) float throughout; timestep/text embeddings are (B, E).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding (Vaswani et al. 2017, as used by Ho et al. 2020 "DDPM").

    ``t``: (B,) float timesteps (any scale). Returns (B, dim) float32.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, dim % 2))


def conv_space(c_in: int, c_out: int, stride: int = 1) -> nn.Conv3d:
    """A 1x3x3 convolution: 3x3 in space, no mixing across frames (Ho et al. 2022)."""
    return nn.Conv3d(c_in, c_out, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1))


class FrameGroupNorm(nn.GroupNorm):
    """GroupNorm with statistics per frame: (B, C, T, H, W) is normalised as B*T images,
    so no information crosses frames outside temporal attention (which keeps
    independent image frames independent in joint image-video training)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        y = super().forward(x.transpose(1, 2).reshape(b * t, c, h, w))
        return y.view(b, t, c, h, w).transpose(1, 2)


class ResBlock(nn.Module):
    """Residual block: GroupNorm (per frame)-SiLU-conv, scale/shift by the embedding, GroupNorm-SiLU-
    dropout-conv, plus a 1x1x1 skip when channels change. (B, c_in, T, H, W) and (B, E)
    -> (B, c_out, T, H, W)."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = FrameGroupNorm(groups, c_in)
        self.conv1 = conv_space(c_in, c_out)
        self.emb = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = FrameGroupNorm(groups, c_out)
        self.drop = nn.Dropout(dropout)
        self.conv2 = conv_space(c_out, c_out)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv3d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class _Attention(nn.Module):
    """Multi-head attention over token sequences (B', N, C) with optional keys from a
    context (B', L, D); output projection zero-initialised so blocks start as identity."""

    def __init__(self, dim: int, heads: int, head_dim: int, context_dim: int | None = None):
        super().__init__()
        inner, self.heads = heads * head_dim, heads
        self.norm = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, inner, bias=False)
        self.kv = nn.Linear(context_dim or dim, 2 * inner, bias=False)
        self.out = nn.Linear(inner, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, -1).transpose(1, 2)

    def attend(self, x: torch.Tensor, context: torch.Tensor | None = None,
               mask: torch.Tensor | None = None) -> torch.Tensor:
        """Residual attention: x (B', N, C) + attn(norm(x), context or norm(x)).
        ``mask``: bool (allowed) or float (additive), broadcastable to (B', heads, N, L)."""
        h = self.norm(x)
        k, v = self.kv(h if context is None else context).chunk(2, dim=-1)
        q, k, v = self._split(self.q(h)), self._split(k), self._split(v)
        if mask is not None and mask.dtype != torch.bool:
            mask = mask.to(q.dtype)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return x + self.out(o.transpose(1, 2).flatten(2))


class SpatialAttention(_Attention):
    """Self-attention among the H*W positions of each frame (Ho et al. 2022)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        seq = x.permute(0, 2, 3, 4, 1).reshape(b * t, h * w, c)
        seq = self.attend(seq)
        return seq.view(b, t, h, w, c).permute(0, 4, 1, 2, 3)


class CrossAttention(_Attention):
    """Attention from every (frame, position) to the text tokens: x (B, C, T, H, W),
    context (B, L, D) float, mask (B, L) bool (True = real token)."""

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        seq = x.permute(0, 2, 3, 4, 1).reshape(b, t * h * w, c)
        seq = self.attend(seq, context.to(seq.dtype), mask[:, None, None, :])
        return seq.view(b, t, h, w, c).permute(0, 4, 1, 2, 3)


class TemporalAttention(_Attention):
    """Self-attention across the T frames at each spatial position, with a learned
    relative position bias per head for offsets clipped to +-``max_distance``
    (Ho et al. 2022). ``allowed`` (T, T) bool masks frame pairs (joint image-video
    training: independent image frames attend only to themselves)."""

    def __init__(self, dim: int, heads: int, head_dim: int, max_distance: int):
        super().__init__(dim, heads, head_dim)
        self.max_distance = max_distance
        self.rel_bias = nn.Embedding(2 * max_distance + 1, heads)
        nn.init.zeros_(self.rel_bias.weight)

    def bias(self, t: int, allowed: torch.Tensor, device: torch.device) -> torch.Tensor:
        """Additive (1, heads, T, T) float32: relative bias, -inf where not allowed."""
        pos = torch.arange(t, device=device)
        rel = (pos[None, :] - pos[:, None]).clamp(-self.max_distance, self.max_distance)
        bias = self.rel_bias(rel + self.max_distance).permute(2, 0, 1)[None]
        return bias.masked_fill(~allowed, float("-inf"))

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        seq = x.permute(0, 3, 4, 2, 1).reshape(b * h * w, t, c)
        seq = self.attend(seq, mask=self.bias(t, allowed, x.device))
        return seq.view(b, h, w, t, c).permute(0, 4, 3, 1, 2)


def temporal_allowed(frames: int, image_frames: int, device: torch.device) -> torch.Tensor:
    """(T, T) bool: the first T - K frames (a video) attend to each other; the last K
    (independent images, Ho et al. 2022 joint training) attend only to themselves."""
    if not 0 <= image_frames <= frames:
        raise ValueError(f"image_frames={image_frames} not in 0..{frames}")
    allowed = torch.eye(frames, dtype=torch.bool, device=device)
    video = frames - image_frames
    allowed[:video, :video] = True
    return allowed


class SpaceTimeAttention(nn.Module):
    """Spatial self-attention, text cross-attention, then temporal self-attention, each
    residual; (B, C, T, H, W) -> same shape."""

    def __init__(self, dim: int, context_dim: int, heads: int, head_dim: int, max_distance: int):
        super().__init__()
        self.spatial = SpatialAttention(dim, heads, head_dim)
        self.cross = CrossAttention(dim, heads, head_dim, context_dim)
        self.temporal = TemporalAttention(dim, heads, head_dim, max_distance)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor,
                allowed: torch.Tensor) -> torch.Tensor:
        x = self.spatial(x)
        x = self.cross(x, context, mask)
        return self.temporal(x, allowed)
