"""Frozen text encoders (offline MiniLM, a saved tiny BERT, an open_clip text tower) and
caption dropout for classifier-free guidance."""

from __future__ import annotations

import json

import pytest
import torch

from train.config import TextConfig
from train.text import TextEncoder, drop_captions


def check_tokens(enc: TextEncoder, dim: int, length: int) -> None:
    tokens, mask = enc.encode(["a red car turns left", ""])
    assert tokens.shape == (2, length, dim) and tokens.dtype == torch.float32
    assert mask.shape == (2, length) and mask.dtype == torch.bool
    assert mask[0].sum() > mask[1].sum() >= 1  # "" still has its start token(s)
    assert not torch.allclose(tokens[0, 1], tokens[1, 1])
    assert all(not p.requires_grad for p in enc.parameters())
    enc.train()
    assert not enc.training  # frozen encoders stay in eval mode


def test_default_is_the_offline_minilm(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    check_tokens(TextEncoder(TextConfig(max_length=12)), dim=384, length=12)


def test_hf_encoder_from_a_saved_folder(tiny_text_encoder):
    check_tokens(TextEncoder(TextConfig(name=str(tiny_text_encoder), max_length=10)), 32, 10)


def test_open_clip_text_tower_from_config_and_weights(tmp_path):
    import open_clip

    cfg = {"embed_dim": 16,
           "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16,
                          "patch_size": 16},
           "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2,
                        "layers": 1}}
    cfg_path = tmp_path / "tiny-clip-test.json"
    cfg_path.write_text(json.dumps(cfg))
    open_clip.add_model_config(str(cfg_path))
    torch.manual_seed(0)
    saved = open_clip.create_model("tiny-clip-test", pretrained=None)
    torch.save(saved.state_dict(), tmp_path / "weights.pt")
    enc = TextEncoder(TextConfig(encoder="open_clip", name=str(cfg_path),
                                 pretrained=str(tmp_path / "weights.pt"), max_length=12))
    assert torch.equal(enc.backbone.token_embedding.weight, saved.token_embedding.weight)
    check_tokens(enc, dim=32, length=12)


def test_missing_local_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="local model folder"):
        TextEncoder(TextConfig(name=str(tmp_path / "nope")))


def test_caption_dropout_rate():
    g = torch.Generator().manual_seed(0)
    caps = ["x"] * 2000
    assert drop_captions(caps, 0.0, g) == caps
    assert drop_captions(caps, 1.0, g) == [""] * 2000
    dropped = drop_captions(caps, 0.25, g).count("")
    assert 400 < dropped < 600  # 500 expected; sd ~ 19
