"""A training run's folder: no mixing of two runs, resume only into the same objective, a
damaged newest checkpoint, the written sample's rate and names, the interrupt hint."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
import yaml

from train.checkpoint import list_checkpoints
from train.cli import main
from train.video_io import write_mp4


def _train(config: dict, shards, out, tmp_path, *extra) -> int:
    path = tmp_path / f"cfg-{len(list(tmp_path.glob('cfg-*')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return main(["train", "--shards", str(shards / "shards" / "*.tar"), "--config", str(path),
                 "--output", str(out), *extra])


def test_resume_without_a_checkpoint_says_so_and_the_end_names_the_checkpoint(tiny_config, train_shards,
                                                                              tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "2", "--resume") == 0
    err = capsys.readouterr().err
    assert f"train: --resume: no checkpoint in {out}; starting at step 0" in err
    latest = list_checkpoints(out)[-1]
    assert f"train: done at step 2; latest checkpoint {latest}; sample from it with vidcurate sample " \
           f"--checkpoint {out}" in err


def test_fresh_run_into_a_folder_with_checkpoints_is_refused(tiny_config, train_shards, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "2") == 0
    first = {p.name: p.read_bytes() for p in list_checkpoints(out)}
    capsys.readouterr()
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "2") == 2
    err = capsys.readouterr().err
    assert "already holds 1 checkpoint (latest ckpt-00000002.pt); add --resume" in err
    assert {p.name: p.read_bytes() for p in list_checkpoints(out)} == first


def test_resume_refuses_another_objective_but_takes_new_sampling_defaults(tiny_config, train_shards,
                                                                           tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "2") == 0
    eps = {**tiny_config, "diffusion": {**tiny_config["diffusion"], "prediction": "epsilon"}}
    assert _train(eps, train_shards, out, tmp_path, "--max-steps", "3", "--resume") == 2
    assert "diffusion.prediction = 'v', this config has 'epsilon'" in capsys.readouterr().err
    more_steps = {**tiny_config, "diffusion": {**tiny_config["diffusion"], "sample_steps": 7, "guidance": 3.0,
                                                "beta_end": 0.02}}  # the cosine schedule has no betas
    assert _train(more_steps, train_shards, out, tmp_path, "--max-steps", "3", "--resume") == 0
    assert [p.name for p in list_checkpoints(out)][-1] == "ckpt-00000003.pt"


@pytest.mark.parametrize("damage", ["cut", "empty"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tiny_config, train_shards, tmp_path, capsys,
                                                                   damage):
    config = {**tiny_config, "train": {**tiny_config["train"], "checkpoint_every": 1}}
    out = tmp_path / "run"
    assert _train(config, train_shards, out, tmp_path, "--max-steps", "2") == 0
    newest = list_checkpoints(out)[-1]
    # a disk that filled up while it was written, or a power cut before its bytes reached the disk
    newest.write_bytes(newest.read_bytes()[:1000] if damage == "cut" else b"")
    with pytest.warns(UserWarning, match="ckpt-00000002.pt cannot be read"):
        assert _train(config, train_shards, out, tmp_path, "--max-steps", "3", "--resume") == 0
    log = (out / "log.jsonl").read_text()
    assert '"event": "resumed"' in log and "ckpt-00000001.pt" in log.split('"resumed"')[-1]
    video = tmp_path / "v.gif"  # a .gif output with --gif: the mp4 goes beside it
    assert main(["sample", "--checkpoint", str(out), "--prompt", "ramp", "--output", str(video),
                 "--steps", "2", "--gif"]) == 0
    assert video.with_suffix(".mp4").is_file() and video.read_bytes()[:3] == b"GIF"
    for p in list_checkpoints(out):
        p.write_bytes(b"not a checkpoint")
    capsys.readouterr()
    with pytest.warns(UserWarning):
        assert main(["sample", "--checkpoint", str(out), "--prompt", "ramp", "--output",
                     str(tmp_path / "w.mp4")]) == 2
    assert "none of the 3 checkpoints" in capsys.readouterr().err


@pytest.mark.parametrize("fps, rate", [(12.5, Fraction(25, 2)), (7.5, Fraction(15, 2)), (8.0, Fraction(8))])
def test_sample_video_plays_at_the_data_rate(tmp_path, fps, rate):
    path = tmp_path / "v.mp4"
    write_mp4(path, np.zeros((10, 16, 16, 3), np.uint8), fps)
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.average_rate == rate
        assert float(stream.duration * stream.time_base) == pytest.approx(10 / fps)
    with pytest.raises(ValueError, match="frame rate must be positive"):
        write_mp4(path, np.zeros((2, 16, 16, 3), np.uint8), 0.0)


def test_interrupted_training_says_how_to_resume(monkeypatch, capsys):
    import train.cli
    from pipelines.cli import main as vidcurate

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train.cli, "train_command", interrupted)
    assert vidcurate(["train", "--shards", "x", "--config", "tiny", "--output", "o"]) == 130
    assert "add --resume to the same command" in capsys.readouterr().err
