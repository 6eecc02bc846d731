"""Inflation of a pretrained image U-Net (Make-A-Video): exactly the image model at
initialisation on every frame, temporal layers that then mix frames (video frames
only), frozen or trained spatial layers, the image model's CLIP text tower, and
training with bit-exact resume and sampling from the checkpoint."""

from __future__ import annotations

import math

import pytest
import torch
from diffusers import UNet2DConditionModel

from train.cli import main
from train.config import ConfigError, InflateConfig, TextConfig, config_from_dict
from train.inflate import InflatedUNet, TemporalAttn, TemporalConv
from train.text import TextEncoder

from .test_train import _assert_same_state, _train
from .tiny_sd import TEXT_DIM


def inputs(b=2, t=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 4, t, 8, 8, generator=g)
    ctx = torch.randn(b, 16, TEXT_DIM, generator=g)
    return x, torch.tensor([7, 600]), ctx, torch.ones(b, 16, dtype=torch.bool)


@pytest.fixture(scope="module")
def image_unet(tiny_sd) -> UNet2DConditionModel:
    return UNet2DConditionModel.from_pretrained(str(tiny_sd), subfolder="unet").eval()


@pytest.mark.parametrize("image_frames", [0, 2])
@torch.no_grad()
def test_inflated_model_at_init_is_the_image_model_on_every_frame(tiny_sd, image_unet,
                                                                  image_frames):
    video = InflatedUNet.build(InflateConfig(name=str(tiny_sd), temporal_head_dim=8)).eval()
    assert video.temporal_layers == 12  # 7 resnets + 5 transformers of the tiny U-Net
    x, t, ctx, mask = inputs()
    out = video(x, t, ctx, mask, image_frames=image_frames)
    assert out.shape == x.shape
    for f in range(x.shape[2]):
        ref = image_unet(x[:, :, f], t, encoder_hidden_states=ctx).sample
        assert ref.abs().mean() > 0.01  # a real output, not zeros
        assert torch.allclose(out[:, :, f], ref, rtol=1e-5, atol=1e-5), f


@torch.no_grad()
def test_trained_temporal_layers_mix_video_frames_but_not_image_frames(tiny_sd, image_unet):
    video = InflatedUNet.build(InflateConfig(name=str(tiny_sd), temporal_head_dim=8)).eval()
    torch.manual_seed(1)
    for m in video.modules():  # as if trained: the zero-initialised outputs move
        if isinstance(m, (TemporalConv, TemporalAttn)):
            for p in m.parameters():
                p.normal_(0, 0.05)
    x, t, ctx, mask = inputs(t=5)
    x2 = x.clone()
    x2[:, :, 1] += 1.0  # change video frame 1
    base, moved = video(x, t, ctx, mask, image_frames=2), video(x2, t, ctx, mask, image_frames=2)
    assert not torch.allclose(base[:, :, 0], moved[:, :, 0], atol=1e-4)  # frame 0 sees frame 1
    assert torch.equal(base[:, :, 3:], moved[:, :, 3:])  # the two image frames do not
    ref = image_unet(x[:, :, 0], t, encoder_hidden_states=ctx).sample
    assert not torch.allclose(base[:, :, 0], ref, atol=1e-4)


@pytest.mark.parametrize("train_spatial", [False, True])
def test_spatial_layers_frozen_or_trained_by_config(tiny_sd, train_spatial):
    video = InflatedUNet.build(InflateConfig(name=str(tiny_sd), train_spatial=train_spatial,
                                             temporal_head_dim=8))
    temporal = {id(p) for m in video.modules() if isinstance(m, (TemporalConv, TemporalAttn))
                for p in m.parameters()}
    for name, p in video.named_parameters():
        assert p.requires_grad == (id(p) in temporal or train_spatial), name
    assert temporal


def test_clip_text_tower_of_the_image_model(tiny_sd):
    enc = TextEncoder(TextConfig(encoder="clip", name=str(tiny_sd), max_length=12))
    tokens, mask = enc.encode(["a red car", ""])
    assert tokens.shape == (2, 12, TEXT_DIM) and mask.dtype == torch.bool
    assert int(mask[0].sum()) == len("a red car") - 2 + 2  # characters without spaces + bos/eos
    assert int(mask[1].sum()) == 2 and not torch.allclose(tokens[0, 1], tokens[1, 1])
    with pytest.raises(FileNotFoundError, match="text.name"):
        TextEncoder(TextConfig(encoder="clip", name=str(tiny_sd / "missing")))


def test_config_rules(inflate_config, tiny_sd):
    cfg = config_from_dict(inflate_config)
    assert cfg.text.name == str(tiny_sd)  # the image model's own text tower by default
    # a missing model is said under the key the user set (a walk-through: "text.name", left null)
    missing = config_from_dict({**inflate_config, "inflate": {**inflate_config["inflate"],
                                                              "name": str(tiny_sd / "missing")}})
    with pytest.raises(FileNotFoundError, match=r"^inflate\.name '.*missing'"):
        TextEncoder(missing.text)
    with pytest.raises(ConfigError, match="model section does not apply with inflate"):
        config_from_dict({**inflate_config, "model": {"base_channels": 16}})
    with pytest.raises(ConfigError, match="temporal_kernel must be odd"):
        config_from_dict({**inflate_config, "inflate": {"name": "x", "temporal_kernel": 2}})


def test_inflated_resume_equals_straight_run_and_sample(inflate_config, synthetic_shards,
                                                        tmp_path):
    cfg = config_from_dict(inflate_config)
    _train(cfg, synthetic_shards, tmp_path / "split", 2)
    resumed = _train(cfg, synthetic_shards, tmp_path / "split", 3, resume=True)
    straight = _train(cfg, synthetic_shards, tmp_path / "straight", 3)
    _assert_same_state(resumed.model.state_dict(), straight.model.state_dict(), "model")
    _assert_same_state(resumed.ema.module.state_dict(), straight.ema.module.state_dict(), "ema")
    _assert_same_state(resumed.optimizer.state_dict()["state"],
                       straight.optimizer.state_dict()["state"], "optimizer")
    frozen = UNet2DConditionModel.from_pretrained(str(inflate_config["inflate"]["name"]),
                                                  subfolder="unet").state_dict()
    weights = straight.model.state_dict()
    moved = [k for k, v in weights.items() if ".temporal." in k and v.abs().sum() > 0]
    assert moved  # temporal layers trained; spatial ones stayed the pretrained weights
    spatial = {k.replace("unet.", "", 1).replace(".spatial.", "."): v for k, v in weights.items()
               if ".temporal." not in k}
    assert all(torch.equal(spatial[k], v) for k, v in frozen.items())
    video = tmp_path / "v.mp4"
    assert main(["sample", "--checkpoint", str(tmp_path / "straight"), "--prompt", "grey",
                 "--output", str(video), "--steps", "2"]) == 0
    assert video.stat().st_size > 0 and math.isfinite(resumed.fit(4)["loss"])
