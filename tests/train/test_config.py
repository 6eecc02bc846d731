"""Trainer configs: bundled files validate, errors name the key, comments are true."""

from __future__ import annotations

import re

import pytest
import torch

from train.config import CONFIG_DIR, ConfigError, config_from_dict, load_config, resolve_config_path
from train.model import UNet3D, count_parameters

MINILM_DIM = 384


@pytest.mark.parametrize("name", ["tiny", "small", "base", "latent-small"])
def test_bundled_config_parameter_count_matches_comment(name):
    cfg = load_config(name)
    text = (CONFIG_DIR / f"{name}.yaml").read_text()
    stated = int(re.search(r"U-Net parameters: ([\d,]+)", text).group(1).replace(",", ""))
    with torch.device("meta"):
        model = UNet3D(cfg.model, MINILM_DIM)
    assert count_parameters(model) == stated


def test_config_by_path_and_name(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text((CONFIG_DIR / "tiny.yaml").read_text())
    assert load_config(path) == load_config("tiny")
    assert resolve_config_path("small") == CONFIG_DIR / "small.yaml"
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"model\.base_chanels: unknown key"):
        config_from_dict({"model": {"base_chanels": 64}})
    with pytest.raises(ConfigError, match=r"optim\.lr"):
        config_from_dict({"optim": {"lr": -1}})


def test_sizes_must_fit_the_unet():
    with pytest.raises(ConfigError, match="data.height must be a multiple of 4"):
        config_from_dict({"data": {"height": 30}, "model": {"channel_mults": [1, 2, 2]}})
    with pytest.raises(ConfigError, match="attention_levels"):
        config_from_dict({"model": {"channel_mults": [1, 2], "attention_levels": [2]}})


def test_bundled_latent_and_inflate_configs():
    from train.config import BUNDLED

    assert {"latent-small", "inflate-sd15"} <= set(BUNDLED)
    latent = load_config("latent-small")
    assert latent.vae.name == "stabilityai/sd-vae-ft-mse" and latent.model.channels == 4
    assert latent.inflate is None
    sd = load_config("inflate-sd15")
    assert sd.inflate.name == sd.vae.name == sd.text.name  # one pipeline: unet, vae, text
    assert (sd.text.encoder, sd.diffusion.schedule, sd.diffusion.prediction) == (
        "clip", "scaled_linear", "epsilon")


@pytest.mark.parametrize("section, values, message", [
    ("optim", {"lr": 1e-4, "min_lr": 1e-3}, "min_lr (0.001) above lr (0.0001)"),
    ("text", {"encoder": "open_clip"}, "encoder open_clip needs name"),
    ("model", {"channel_mults": [], "attention_levels": []}, "channel_mults"),
])
def test_settings_that_cannot_train_as_meant_are_refused(section, values, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict({section: values})


def test_vae_precomputed_off_written_bare_in_yaml_is_off(tmp_path):
    """``precomputed: off`` (YAML 1.1 reads it as false) had been refused as no 'auto' or 'off'
    (a break test); the documented value works as written."""
    import yaml

    cfg = yaml.safe_load((CONFIG_DIR / "latent-small.yaml").read_text())
    path = tmp_path / "cfg.yaml"
    cfg["vae"]["precomputed"] = "OFF_BARE"
    path.write_text(yaml.safe_dump(cfg).replace("OFF_BARE", "off"))
    assert "precomputed: off" in path.read_text()
    assert load_config(str(path)).vae.precomputed == "off"


@pytest.mark.parametrize("seed", [-1, 2**32, 1234567890123456789])
def test_a_seed_outside_32_bits_is_refused(seed):
    """A break test: 1234567890123456789 passed and was an internal error at the generator's seeding."""
    import yaml

    data = yaml.safe_load((CONFIG_DIR / "tiny.yaml").read_text())
    data["train"] = {**data.get("train", {}), "seed": seed}
    with pytest.raises(ConfigError, match="train.seed"):
        config_from_dict(data)
    data["train"]["seed"] = 2**32 - 1
    assert config_from_dict(data).train.seed == 2**32 - 1


def test_a_guidance_scale_beyond_100_is_refused():
    """1e39 passed, overflowed float32 in sampling and wrote a black video (a review)."""
    import yaml

    data = yaml.safe_load((CONFIG_DIR / "tiny.yaml").read_text())
    data.setdefault("diffusion", {})["guidance"] = 1e39
    with pytest.raises(ConfigError, match="guidance"):
        config_from_dict(data)
