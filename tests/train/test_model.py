"""The 3D U-Net: shapes, factorised space-time mixing, joint image-video masking, text."""

from __future__ import annotations

import pytest
import torch

from train.config import ModelConfig
from train.layers import TemporalAttention, temporal_allowed
from train.model import UNet3D

CFG = ModelConfig(base_channels=16, channel_mults=[1, 2], num_res_blocks=1, attention_levels=[0, 1],
                  heads=2, head_dim=8, groups=4)


@pytest.fixture(scope="module")
def model() -> UNet3D:
    torch.manual_seed(0)
    m = UNet3D(CFG, context_dim=12).eval()
    with torch.no_grad():  # leave the zero-initialised outputs so every path carries signal
        for p in m.parameters():
            p.normal_(0, 0.1)
    return m


def inputs(b=2, t=5, h=8, w=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 3, t, h, w, generator=g)
    ctx = torch.randn(b, 6, 12, generator=g)
    mask = torch.ones(b, 6, dtype=torch.bool)
    mask[:, 4:] = False
    return x, torch.tensor([3, 70]), ctx, mask


@torch.no_grad()
def test_output_shape_and_dtype(model):
    x, t, ctx, mask = inputs()
    out = model(x, t, ctx, mask)
    assert out.shape == x.shape and out.dtype == torch.float32 and torch.isfinite(out).all()


@torch.no_grad()
def test_image_frames_are_independent_video_frames_are_not(model):
    x, t, ctx, mask = inputs()
    x2 = x.clone()
    x2[:, :, 1] += 1.0  # change frame 1 only
    # last 3 of 5 frames are images: frame 3 must not see frame 1; frame 0 (video) must
    base, moved = model(x, t, ctx, mask, image_frames=3), model(x2, t, ctx, mask, image_frames=3)
    assert torch.equal(base[:, :, 2:], moved[:, :, 2:])
    assert not torch.allclose(base[:, :, 0], moved[:, :, 0])
    # a pure image batch: every frame on its own
    base, moved = model(x, t, ctx, mask, image_frames=5), model(x2, t, ctx, mask, image_frames=5)
    assert torch.equal(base[:, :, [0, 2, 3, 4]], moved[:, :, [0, 2, 3, 4]])


@torch.no_grad()
def test_text_tokens_condition_the_output_and_padding_is_ignored(model):
    x, t, ctx, mask = inputs()
    ref = model(x, t, ctx, mask)
    padded = ctx.clone()
    padded[:, 4:] = 100.0  # masked-out tokens
    assert torch.allclose(model(x, t, padded, mask), ref, atol=1e-5)
    changed = ctx.clone()
    changed[:, 0] += 1.0
    assert not torch.allclose(model(x, t, changed, mask), ref, atol=1e-4)


def test_temporal_bias_depends_on_offset_only():
    attn = TemporalAttention(8, heads=2, head_dim=4, max_distance=2)
    with torch.no_grad():
        attn.rel_bias.weight.copy_(torch.arange(10.0).view(5, 2))
    bias = attn.bias(4, temporal_allowed(4, 1, torch.device("cpu")), torch.device("cpu"))[0, 0]
    assert bias[0, 1] == bias[1, 2] == 6.0  # offset +1 -> row 3, head 0
    assert bias[0, 2] == 8.0 and bias[2, 0] == 0.0  # offsets clipped to +-2
    assert torch.isinf(bias[0, 3]) and torch.isinf(bias[3, 0]) and bias[3, 3] == 4.0


def test_sizes_not_divisible_raise(model):
    x, t, ctx, mask = inputs(h=6, w=12)
    x = x[..., :7]
    with pytest.raises(ValueError, match="divisible"):
        model(x, t, ctx, mask)
