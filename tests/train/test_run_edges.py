"""What a training or sampling command says at its edges (found by a break test): a text
length past the encoder's, checkpoints of another version or slimmed down, an output
under a file, a resume with nothing left to train, and which checkpoint the run names."""

from __future__ import annotations

import pytest
import torch
import yaml

from train import video_io
from train.checkpoint import list_checkpoints
from train.cli import main


def _train(config: dict, shards, out, tmp_path, *extra) -> int:
    path = tmp_path / f"cfg-{len(list(tmp_path.glob('cfg-*')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return main(["train", "--shards", str(shards / "shards" / "*.tar"), "--config", str(path),
                 "--output", str(out), *extra])


def test_a_text_length_past_the_encoders_positions_is_a_config_error(tiny_config, train_shards, tmp_path,
                                                                      capsys):
    long = {**tiny_config, "text": {**tiny_config["text"], "max_length": 100}}  # the tiny encoder has 64
    assert _train(long, train_shards, tmp_path / "run", tmp_path, "--max-steps", "1") == 2
    assert "text.max_length 100 is more than the 64 positions of the text encoder" in capsys.readouterr().err
    assert not list_checkpoints(tmp_path / "run")


def test_checkpoints_of_another_version_or_without_the_resume_state_are_refused(tiny_config, train_shards,
                                                                                 tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "1") == 0
    [path] = list_checkpoints(out)
    state = torch.load(path, weights_only=True)
    slim = {k: state[k] for k in ("config", "model", "ema", "step", "context_dim")}  # for sampling only
    torch.save(slim, path)
    capsys.readouterr()
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "2", "--resume") == 2
    assert "cannot resume training: it holds no optimizer, loader, rng" in capsys.readouterr().err
    assert main(["sample", "--checkpoint", str(out), "--prompt", "x", "--output", str(tmp_path / "a.mp4"),
                 "--steps", "1"]) == 0  # sampling needs no more
    other = {**state, "config": {**state["config"], "train": {**state["config"]["train"], "old_key": 1}}}
    torch.save(other, path)
    capsys.readouterr()
    with pytest.warns(UserWarning, match=r"holds a config this version does not take \(train\.old_key"):
        assert main(["sample", "--checkpoint", str(out), "--prompt", "x", "--output",
                     str(tmp_path / "b.mp4")]) == 2
    assert "none of the 1 checkpoints" in capsys.readouterr().err


class _Odd:
    """An object no weights-only load takes."""


def test_a_file_that_is_no_checkpoint_is_named_so_without_torchs_advice(tmp_path, capsys):
    """``sample --checkpoint run/manifest.json`` had passed on torch's advice to load it with
    ``weights_only=False``, which can run code (a break test); a pickle of other objects is
    refused without it too."""
    (tmp_path / "manifest.json").write_text("{}")
    torch.save({"config": _Odd()}, tmp_path / "odd.pt")
    for name, said in (("manifest.json", "is not a vidcurate checkpoint (not a file torch.save wrote"),
                       ("odd.pt", "holds objects other than tensors and plain values, which are not loaded")):
        assert main(["sample", "--checkpoint", str(tmp_path / name), "--prompt", "x", "--output",
                     str(tmp_path / "a.mp4")]) == 2
        err = capsys.readouterr().err
        assert said in err and "weights_only" not in err


def test_a_sample_output_under_a_file_is_refused_before_sampling(tiny_config, train_shards, tmp_path, capsys,
                                                                 monkeypatch):
    out = tmp_path / "run"
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "1") == 0
    (tmp_path / "afile").write_text("")
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(out), "--prompt", "x", "--output",
                 str(tmp_path / "afile" / "deeper" / "x.mp4")]) == 2
    assert f"{tmp_path / 'afile'} is a file, not a folder" in capsys.readouterr().err

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(video_io.av, "open", full)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"an earlier sample")
    assert main(["sample", "--checkpoint", str(out), "--prompt", "x", "--output", str(video), "--steps", "1"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert video.read_bytes() == b"an earlier sample" and not list(tmp_path.glob("v.mp4.part"))


def test_a_resume_with_nothing_left_to_train_says_so(tiny_config, train_shards, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "3") == 0
    before = {p.name: p.stat().st_mtime_ns for p in list_checkpoints(out)}
    capsys.readouterr()
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "2", "--resume") == 0
    err = capsys.readouterr().err
    assert "nothing to train: the checkpoint is at step 3, at or past --max-steps 2" in err
    assert "done at step" not in err
    assert {p.name: p.stat().st_mtime_ns for p in list_checkpoints(out)} == before


def test_a_resume_past_a_damaged_newest_checkpoint_names_and_keeps_the_new_one(tiny_config, train_shards,
                                                                              tmp_path, capsys):
    config = {**tiny_config, "train": {**tiny_config["train"], "checkpoint_every": 2, "keep_checkpoints": 1}}
    out = tmp_path / "run"
    assert _train(config, train_shards, out, tmp_path, "--max-steps", "2") == 0
    assert _train(config, train_shards, out, tmp_path, "--max-steps", "4", "--resume") == 0
    assert [p.name for p in list_checkpoints(out)] == ["ckpt-00000004.pt"]
    # a newest checkpoint cut short (a full disk) beside the one it resumes from
    good = list_checkpoints(out)[0]
    damaged = good.with_name("ckpt-00000006.pt")
    damaged.write_bytes(good.read_bytes()[:5000])
    capsys.readouterr()
    with pytest.warns(UserWarning, match="ckpt-00000006.pt cannot be read"):
        assert _train(config, train_shards, out, tmp_path, "--max-steps", "5", "--resume") == 0
    # keep_checkpoints 1: the new one is kept (it had been deleted as older than the damaged one)
    assert [p.name for p in list_checkpoints(out)] == ["ckpt-00000005.pt"]
    assert f"done at step 5; latest checkpoint {out / 'checkpoints' / 'ckpt-00000005.pt'}" in capsys.readouterr().err
    # a damaged one of a step before the next checkpoint's (a break test: it took a place of keep)
    config["train"].update(keep_checkpoints=2, checkpoint_every=4)
    damaged.write_bytes(list_checkpoints(out)[0].read_bytes()[:5000])
    with pytest.warns(UserWarning, match="ckpt-00000006.pt cannot be read"):
        assert _train(config, train_shards, out, tmp_path, "--max-steps", "8", "--resume") == 0
    assert [p.name for p in list_checkpoints(out)] == ["ckpt-00000005.pt", "ckpt-00000008.pt"]
