"""Latent training: the VAE codec (shapes, scaling), latents precomputed into shards
(``vidcurate latents``) and read back, training on latents with bit-exact resume."""

from __future__ import annotations

import math
import tarfile

import pytest
import torch
from diffusers import AutoencoderKL

from train.cli import main
from train.config import VaeConfig, config_from_dict
from train.data import ClipStream, make_loader
from train.latent_shards import LATENTS_EXT, latent_meta, read_latents
from train.latents import LatentCodec
from train.loop import Trainer
from train.shards import SkippedDataWarning, SkipStats, iter_samples
from train.video_io import decode_frames

from .synth_shards import CLIPS
from .test_train import CPU, _assert_same_state, _train


@pytest.fixture(scope="module")
def codec(tiny_sd) -> LatentCodec:
    return LatentCodec.from_config(VaeConfig(name=str(tiny_sd), subfolder="vae", encode_batch=3))


def test_codec_encodes_each_frame_scaled_and_decodes_back(codec, tiny_sd):
    vae = AutoencoderKL.from_pretrained(str(tiny_sd), subfolder="vae").eval()
    assert (codec.channels, codec.factor, codec.scaling_factor) == (4, 2, 0.5)
    x = torch.rand(2, 3, 5, 16, 12, generator=torch.Generator().manual_seed(0)) * 2 - 1
    z = codec.encode(x)
    assert z.shape == (2, 4, 5, 8, 6) and z.dtype == torch.float32
    with torch.no_grad():
        for f in range(5):  # per frame, posterior mean times the scaling factor
            mean = vae.encode(x[:, :, f]).latent_dist.mode()
            assert torch.allclose(z[:, :, f], mean * 0.5, atol=1e-5)
            assert torch.allclose(codec.decode(z)[:, :, f],
                                  vae.decode(mean).sample.clamp(-1, 1), atol=1e-5)
    assert codec.decode(z).shape == x.shape
    half = LatentCodec(vae, scaling_factor=0.25)  # a config's factor overrides the VAE's
    assert torch.allclose(half.encode(x), z / 2, atol=1e-6)
    assert torch.allclose(half.decode(z / 2), codec.decode(z), atol=1e-5)
    with pytest.raises(ValueError, match="multiples of the VAE's downsampling factor 2"):
        codec.encode(x[..., :11])


def test_latents_command_writes_matching_latents(latent_config, synthetic_shards, tmp_path,
                                                 codec):
    config = tmp_path / "cfg.json"
    import json

    config.write_text(json.dumps(latent_config))
    out = tmp_path / "lat"
    assert main(["latents", "--shards", str(synthetic_shards), "--config", str(config),
                 "--output", str(out), "--device", "cpu"]) == 0
    cfg = config_from_dict(latent_config)
    shard = out / "shards" / "shard-000000.tar"
    with tarfile.open(shard) as tf:
        assert sum(m.name.endswith(LATENTS_EXT) for m in tf.getmembers()) == 4
    for sample in iter_samples(str(shard), SkipStats()):
        latents, meta = read_latents(sample[LATENTS_EXT])
        frames, fps = CLIPS[int(sample["__key__"], 16)]
        stride = round(fps / 8.0)
        indices = list(range(0, frames, stride))
        assert latents.shape == (4, len(indices), 8, 8)
        assert meta["dtype"] == "float16" and meta["stride"] == str(stride)
        assert {k: meta[k] for k in latent_meta(cfg, codec)} == latent_meta(cfg, codec)
        pixels = torch.from_numpy(decode_frames(sample["mp4"], indices, 16, 16))
        video = pixels.permute(3, 0, 1, 2).float().div(127.5).sub(1.0)[None]
        assert torch.allclose(latents, codec.encode(video)[0], atol=2e-3)  # float16 storage
    # the loader uses stored latents when they match, the mp4 otherwise
    meta = latent_meta(cfg, codec)
    batch = next(iter(make_loader(ClipStream(out, cfg.data, 2, seed=0, latents=meta))))
    assert batch["video"] is None and batch["latents"].shape == (2, 4, 4, 8, 8)
    other = {**meta, "height": "32"}
    with pytest.warns(SkippedDataWarning, match="latents_mismatch"):
        batch = next(iter(make_loader(ClipStream(out, cfg.data, 2, seed=0, latents=other))))
    assert batch["latents"] is None and batch["video"].shape == (2, 3, 4, 16, 16)


def test_training_on_stored_latents_equals_encoding_on_the_fly(latent_config, synthetic_shards,
                                                              tmp_path):
    latent_config["data"]["resampled"] = False
    config = tmp_path / "cfg.json"
    import json

    config.write_text(json.dumps(latent_config))
    assert main(["latents", "--shards", str(synthetic_shards), "--config", str(config),
                 "--output", str(tmp_path / "lat"), "--device", "cpu"]) == 0
    cfg = config_from_dict(latent_config)
    stored = Trainer(cfg, tmp_path / "lat", tmp_path / "a", CPU)
    fly = Trainer(cfg, synthetic_shards, tmp_path / "b", CPU)
    meta = latent_meta(cfg, stored.codec)  # what the trainer passes to its loader
    a = next(iter(make_loader(ClipStream(tmp_path / "lat", cfg.data, 2, seed=0, latents=meta))))
    b = next(iter(make_loader(ClipStream(synthetic_shards, cfg.data, 2, seed=0, latents=meta))))
    assert a["key"] == b["key"] and a["video"] is None and b["latents"] is None
    assert torch.allclose(stored.inputs(a), fly.inputs(b), atol=2e-3)


def test_latent_resume_equals_straight_run_and_samples_decode(latent_config, synthetic_shards,
                                                              tmp_path):
    cfg = config_from_dict(latent_config)
    _train(cfg, synthetic_shards, tmp_path / "split", 2)
    resumed = _train(cfg, synthetic_shards, tmp_path / "split", 3, resume=True)
    straight = _train(cfg, synthetic_shards, tmp_path / "straight", 3)
    assert resumed.step == straight.step == 3
    _assert_same_state(resumed.model.state_dict(), straight.model.state_dict(), "model")
    _assert_same_state(resumed.optimizer.state_dict()["state"],
                       straight.optimizer.state_dict()["state"], "optimizer")
    assert math.isfinite(straight.fit(4)["loss"])
    video = tmp_path / "v.mp4"
    assert main(["sample", "--checkpoint", str(tmp_path / "straight"), "--prompt", "grey",
                 "--output", str(video), "--steps", "2"]) == 0
    import av

    with av.open(str(video)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 4 and frames[0].shape == (16, 16, 3)  # decoded to pixels


def test_model_channels_must_match_the_vae(latent_config, synthetic_shards, tmp_path):
    from train.config import ConfigError

    latent_config["model"]["channels"] = 3
    with pytest.raises(ConfigError, match="model takes 3 input channels, the data has 4"):
        Trainer(config_from_dict(latent_config), synthetic_shards, tmp_path, CPU)


def test_latents_command_needs_a_vae_section(tiny_config, synthetic_shards, tmp_path, capsys):
    import json

    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(tiny_config))
    assert main(["latents", "--shards", str(synthetic_shards), "--config", str(config),
                 "--output", str(tmp_path / "o")]) == 2
    assert "has no vae section" in capsys.readouterr().err


def test_latents_refuse_to_overwrite_their_input_and_skip_truncated_shards(latent_config, synthetic_shards,
                                                                           tmp_path, capsys):
    import json

    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(latent_config))
    run = synthetic_shards  # a run folder: its shards are run/shards/*.tar
    before = {p.name: p.read_bytes() for p in (run / "shards").glob("*.tar")}
    args = ["latents", "--config", str(config), "--device", "cpu", "--shards", str(run)]
    assert main(args + ["--output", str(run)]) == 2  # its copies would be the inputs themselves
    assert "would overwrite the input shard" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (run / "shards").glob("*.tar")} == before  # untouched
    unloadable = {**latent_config, "vae": {**latent_config["vae"], "name": str(tmp_path / "no-vae")}}
    config.write_text(json.dumps(unloadable))  # said before the VAE loads (a new-user trial: after)
    assert main(args + ["--output", str(run)]) == 2
    assert "would overwrite the input shard" in capsys.readouterr().err
    config.write_text(json.dumps(latent_config))
    # a truncated input shard is left out and counted; the good one is copied, exit 0
    cut = tmp_path / "cut" / "shards"
    cut.mkdir(parents=True)
    data = before["shard-000000.tar"]
    (cut / "shard-000000.tar").write_bytes(data[: len(data) * 2 // 3])
    (cut / "shard-000001.tar").write_bytes(before["shard-000001.tar"])
    assert main(["latents", "--config", str(config), "--device", "cpu", "--shards", str(cut.parent),
                 "--output", str(tmp_path / "lat")]) == 0
    out = capsys.readouterr().out
    assert "1 truncated or corrupt input shards left out" in out
    assert [p.name for p in (tmp_path / "lat" / "shards").iterdir()] == ["shard-000001.tar"]  # no .tmp left
    copied = list(iter_samples(str(tmp_path / "lat" / "shards" / "shard-000001.tar"), SkipStats()))
    assert len(copied) == 4 and out.startswith("wrote 4 samples")
    # nothing readable at all: no copy, exit 4
    (cut / "shard-000001.tar").unlink()
    assert main(["latents", "--config", str(config), "--device", "cpu", "--shards", str(cut.parent),
                 "--output", str(tmp_path / "lat2")]) == 4
    assert not list((tmp_path / "lat2" / "shards").iterdir())


def test_a_vae_name_that_is_no_folder_is_told_to_need_the_hub(tmp_path, monkeypatch):
    from train.config import VaeConfig
    from train.latents import load_vae

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="is no local folder, so it is a hub id: it needs huggingface.co") as err:
        load_vae(VaeConfig(name="vidcurate-tests/no-such-vae"))
    # the cause alone: the hub client's "does not appear to have a file named config.json" read as a
    # broken model (a new-user trial)
    assert "vae.name 'vidcurate-tests/no-such-vae': not in the local hub cache, and " in str(err.value)
    assert "does not appear" not in str(err.value)
    with pytest.raises(FileNotFoundError) as err:  # a path is no hub id (a break test: it was said as one)
        load_vae(VaeConfig(name=str(tmp_path / "models" / "no-such-vae")))
    assert str(err.value) == (f"vae.name {str(tmp_path / 'models' / 'no-such-vae')!r}: no such folder: "
                              f"{tmp_path / 'models' / 'no-such-vae'} (a hub id is org/name)")
