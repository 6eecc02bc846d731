"""Stored latents and latent checkpoints against the VAE they were made with: another VAE
put at the same path, latents members cut short or not finite. Found by a break test."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import save as st_save

from train.cli import main
from train.config import config_from_dict
from train.data import ClipStream, make_loader
from train.latent_shards import LATENTS_EXT, latent_meta, latents_item, read_latents
from train.latents import LatentCodec
from train.loop import Trainer
from train.shards import SkippedDataWarning, SkipStats

from .test_train import CPU
from .tiny_sd import vae_config


def _other_vae(folder, seed: int = 1, **changes) -> None:
    """Replace the VAE in ``folder`` with one of the same shape (other weights), or as
    ``changes`` say (e.g. ``latent_channels``)."""
    from diffusers import AutoencoderKL

    shutil.rmtree(folder)
    torch.manual_seed(seed)
    AutoencoderKL(**{**vae_config(), **changes}).save_pretrained(str(folder))


@pytest.fixture()
def own_vae(latent_config, tiny_sd, tmp_path) -> dict:
    """``latent_config`` on a copy of the tiny VAE in ``tmp_path/vae`` (to be replaced)."""
    shutil.copytree(tiny_sd / "vae", tmp_path / "vae")
    latent_config["vae"] = {"name": str(tmp_path / "vae"), "encode_batch": 8}
    return latent_config


def test_latents_of_another_vae_at_the_same_path_are_encoded_again(own_vae, synthetic_shards, tmp_path):
    """Stored latents were matched by the VAE's folder name alone: a VAE of other weights
    (or another factor) put there trained on the old VAE's latents, exit 0."""
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(own_vae))
    assert main(["latents", "--shards", str(synthetic_shards), "--config", str(config),
                 "--output", str(tmp_path / "lat"), "--device", "cpu"]) == 0
    cfg = config_from_dict(own_vae)
    first = LatentCodec.from_config(cfg.vae)
    batch = next(iter(make_loader(ClipStream(tmp_path / "lat", cfg.data, 2, seed=0, latents=latent_meta(cfg, first)))))
    assert batch["latents"] is not None  # its own VAE: the stored latents are used
    for changes in ({}, {"block_out_channels": (8, 16, 16), "down_block_types": ("DownEncoderBlock2D",) * 3,
                         "up_block_types": ("UpDecoderBlock2D",) * 3}):
        _other_vae(tmp_path / "vae", **changes)
        codec = LatentCodec.from_config(cfg.vae)
        assert codec.fingerprint != first.fingerprint
        with pytest.warns(SkippedDataWarning, match="latents_mismatch"):
            batch = next(iter(make_loader(ClipStream(tmp_path / "lat", cfg.data, 2, seed=0,
                                                     latents=latent_meta(cfg, codec)))))
        assert batch["latents"] is None and batch["video"].shape == (2, 3, 4, 16, 16)


def test_a_latent_checkpoint_samples_and_resumes_only_with_its_vae(own_vae, synthetic_shards, tmp_path, capsys):
    """``sample`` decoded a model's latents through whatever VAE was at its path (an internal
    error for other channels), and a resume trained on with it."""
    cfg = config_from_dict(own_vae)
    Trainer(cfg, synthetic_shards, tmp_path / "run", CPU).fit(1)
    out = str(tmp_path / "v.mp4")
    assert main(["sample", "--checkpoint", str(tmp_path / "run"), "--prompt", "a", "--output", out,
                 "--steps", "1"]) == 0
    _other_vae(tmp_path / "vae")
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(tmp_path / "run"), "--prompt", "a", "--output", out,
                 "--steps", "1"]) == 2
    assert f"the VAE at vae.name {str(tmp_path / 'vae')!r} is not the one this model was trained with" \
        in capsys.readouterr().err
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(own_vae))
    assert main(["train", "--shards", str(synthetic_shards), "--config", str(config), "--output",
                 str(tmp_path / "run"), "--max-steps", "2", "--resume"]) == 2
    assert "is not the one this model was trained with" in capsys.readouterr().err
    _other_vae(tmp_path / "vae", latent_channels=8)  # its model's 4 channels no longer fit: exit 2, not 1
    assert main(["sample", "--checkpoint", str(tmp_path / "run"), "--prompt", "a", "--output", out]) == 2


def test_a_latents_member_cut_short_or_not_finite_is_a_bad_sample(latent_config, tmp_path):
    """A member 100 bytes short raised safetensors' own error (no ValueError) and ended the
    training, again on every resume; NaN latents stopped it as a diverged loss."""
    good = torch.zeros(4, 3, 8, 8, dtype=torch.float16)
    whole = st_save({"latents": good}, metadata={"format": "x"})
    assert read_latents(whole)[0].shape == (4, 3, 8, 8)
    for raw, said in ((whole[:-100], "not a latents member"),
                      (st_save({"latents": good.clone().fill_(float("nan"))}), "not finite"),
                      (st_save({"latents": good[0]}), r"want \(C, N, h, w\)")):
        with pytest.raises(ValueError, match=said):
            read_latents(raw)
        cfg = config_from_dict(latent_config)
        stats = SkipStats()
        sample = {"__url__": "u", "__key__": "k", LATENTS_EXT: raw, "txt": b"a", "json": b"{}"}
        with pytest.warns(SkippedDataWarning, match="bad_sample"):
            assert latents_item(sample, cfg.data, {}, None, stats) is None
        assert stats.counts["bad_sample"] == 1


@pytest.mark.parametrize("stride", ["3.0", "0", "x"])
def test_a_latents_member_with_a_bad_stride_is_a_bad_sample(latent_config, stride):
    """A break test: a stride of "3.0" in a member's metadata was an internal error."""
    import random

    from .synth_shards import make_record

    raw = st_save({"latents": torch.zeros(4, 8, 8, 8, dtype=torch.float16)}, metadata={"stride": stride})
    cfg = config_from_dict(latent_config)
    assert cfg.data.caption == "window"  # the caption of the latent frames' window: the stride is read
    stats = SkipStats()
    sample = {"__url__": "u", "__key__": "k", LATENTS_EXT: raw, "txt": b"a",
              "json": make_record("k", 16, 8.0, 64).model_dump_json().encode()}
    with pytest.warns(SkippedDataWarning, match="bad_sample"):
        assert latents_item(sample, cfg.data, {}, random.Random(0), stats) is None
    assert stats.counts["bad_sample"] == 1
    good = st_save({"latents": torch.zeros(4, 8, 8, 8, dtype=torch.float16)}, metadata={"stride": "2"})
    assert latents_item({**sample, LATENTS_EXT: good}, cfg.data, {}, random.Random(0), stats)["key"] == "k"


def test_the_fingerprint_is_the_weights_whatever_their_names(tiny_sd):
    """A review: new names of the same weights (diffusers has renamed VAE keys across
    versions) would have made every stored latent a mismatch."""
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(str(tiny_sd), subfolder="vae")
    full = LatentCodec(vae).fingerprint
    assert LatentCodec(AutoencoderKL.from_pretrained(str(tiny_sd), subfolder="vae")).fingerprint == full

    class Renamed(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.renamed = inner
            self.config = inner.config

    codec = LatentCodec(vae)
    codec.vae = Renamed(vae)  # every key now starts with "renamed."
    assert codec.fingerprint == full


def test_latents_of_the_earlier_format_say_to_run_latents_again(latent_config, tmp_path):
    raw = st_save({"latents": torch.zeros(4, 3, 8, 8)}, metadata={"format": "vidcurate-latents/1"})
    sample = {"__url__": "u", "__key__": "k", LATENTS_EXT: raw, "txt": b"a", "json": b"{}"}
    cfg = config_from_dict(latent_config)
    with pytest.warns(SkippedDataWarning, match="an earlier format .*run vidcurate latents again"):
        assert latents_item(sample, cfg.data, {"format": "vidcurate-latents/2"}, None, SkipStats()) is False
