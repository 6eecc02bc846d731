"""The training loop: overfitting one batch, bit-exact resume, the commands."""

from __future__ import annotations

import itertools
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import av
import pytest
import torch
import yaml
from PIL import Image

from train.checkpoint import list_checkpoints, load_checkpoint
from train.cli import main
from train.config import config_from_dict
from train.data import ClipStream, make_loader
from train.distributed import DistInfo
from train.loop import Trainer

CPU = DistInfo(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))


def test_tiny_model_overfits_one_batch(tiny_config, train_shards, tmp_path):
    tiny_config["text"]["caption_dropout"] = 0.0
    tiny_config["optim"].update(lr=2e-3, min_lr=2e-3, warmup_steps=0)
    cfg = config_from_dict(tiny_config)
    trainer = Trainer(cfg, train_shards, tmp_path, CPU)
    batch = next(iter(make_loader(ClipStream(train_shards, cfg.data, 2, seed=0))))
    losses = []
    for _ in range(30):
        trainer.generator.manual_seed(123)  # same timesteps and noise every step
        losses.append(float(trainer.train_step(itertools.repeat(batch))))
    assert losses[-1] <= 0.5 * losses[0], losses


def _train(cfg, shards, out: Path, steps: int, resume: bool = False) -> Trainer:
    trainer = Trainer(cfg, shards, out, CPU)
    if resume:
        assert trainer.resume()
    trainer.fit(steps)
    return trainer


def _assert_same_state(a: dict, b: dict, where: str = "") -> None:
    assert a.keys() == b.keys(), where
    for k in a:
        if isinstance(a[k], dict):
            _assert_same_state(a[k], b[k], f"{where}.{k}")
        elif isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), f"{where}.{k}"
        else:
            assert a[k] == b[k], f"{where}.{k}"


@pytest.mark.parametrize(("workers", "accum", "dropout"), [(0, 2, 0.0), (2, 1, 0.0), (0, 1, 0.1)])
def test_resume_equals_straight_run(tiny_config, train_shards, tmp_path, workers, accum, dropout):
    # with 2 loader workers, 3 batches before the stop: the resumed loader must start at worker 1;
    # dropout draws from torch's global RNG, which the loader's start had drawn from after the
    # resume restored it (a break test)
    tiny_config["data"]["num_workers"] = workers
    tiny_config["optim"]["grad_accum"] = accum
    tiny_config["model"]["dropout"] = dropout
    cfg = config_from_dict(tiny_config)
    _train(cfg, train_shards, tmp_path / "split", 3)
    resumed = _train(cfg, train_shards, tmp_path / "split", 5, resume=True)
    straight = _train(cfg, train_shards, tmp_path / "straight", 5)
    assert resumed.step == straight.step == 5
    _assert_same_state(resumed.model.state_dict(), straight.model.state_dict(), "model")
    _assert_same_state(resumed.ema.module.state_dict(), straight.ema.module.state_dict(), "ema")
    _assert_same_state(resumed.optimizer.state_dict()["state"],
                       straight.optimizer.state_dict()["state"], "optimizer")
    assert [p.name for p in list_checkpoints(tmp_path / "split")] == [
        "ckpt-00000003.pt", "ckpt-00000005.pt"]
    first = Trainer(cfg, train_shards, tmp_path / "fresh", CPU)
    changed = any(not torch.equal(p, q) for p, q in
                  zip(first.model.state_dict().values(), straight.model.state_dict().values()))
    assert changed  # training moved the weights, so equality above means something


@pytest.mark.parametrize("options", [{"train": {"precision": "bf16"}},
                                     {"data": {"image_frames": 2}, "optim": {"grad_accum": 2}}])
def test_steps_with_bf16_autocast_and_joint_image_video(tiny_config, train_shards, tmp_path,
                                                        options):
    for section, values in options.items():
        tiny_config[section].update(values)
    trainer = Trainer(config_from_dict(tiny_config), train_shards, tmp_path, CPU)
    before = [p.clone() for p in trainer.model.parameters()]
    record = trainer.fit(2)
    assert record["step"] == 2 and math.isfinite(record["loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


def test_checkpoint_holds_only_plain_data(tiny_config, train_shards, tmp_path):
    cfg = config_from_dict(tiny_config)
    _train(cfg, train_shards, tmp_path, 1)
    state = load_checkpoint(tmp_path)  # torch.load(weights_only=True) inside
    assert state["step"] == 1 and len(state["rng"]["ranks"]) == 1
    assert state["rng"]["ranks"][0]["generator"].dtype == torch.uint8
    assert set(state) >= {"model", "ema", "optimizer", "config", "loader"}


def test_train_and_sample_commands_write_a_playable_video(tiny_config, train_shards, tmp_path):
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(tiny_config))
    out = tmp_path / "run"
    assert main(["train", "--shards", str(train_shards / "shards" / "*.tar"), "--config",
                 str(config), "--output", str(out), "--max-steps", "2"]) == 0
    assert (out / "log.jsonl").read_text().count('"loss"') >= 1
    video = tmp_path / "v.mp4"
    ckpt = str(list_checkpoints(out)[-1])
    assert main(["sample", "--checkpoint", ckpt, "--prompt", "a grey ramp", "--output",
                 str(video), "--steps", "3", "--guidance", "2", "--gif"]) == 0
    with av.open(str(video)) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(stream)]
        assert stream.codec_context.name == "h264"
    data = tiny_config["data"]
    assert len(frames) == data["frames"]
    assert frames[0].shape == (data["height"], data["width"], 3)
    with Image.open(video.with_suffix(".gif")) as gif:
        assert gif.n_frames == data["frames"]


def test_bad_config_exits_with_message(tmp_path, capsys, train_shards):
    config = tmp_path / "bad.yaml"
    config.write_text("optim:\n  learning_rate: 1.0\n")
    code = main(["train", "--shards", str(train_shards), "--config", str(config), "--output",
                 str(tmp_path / "o")])
    assert code == 2 and "optim.learning_rate: unknown key" in capsys.readouterr().err


def _newer_schema_shards(folder) -> str:
    """A run folder whose one shard holds a sample of the next major schema version; returns it."""
    import json

    import webdataset as wds

    from schemas import SCHEMA_VERSION

    from .synth_shards import make_mp4, make_record

    key, mp4 = "00000000000000cc", make_mp4(24, 24.0)
    record = make_record(key, 24, 24.0, len(mp4)).model_dump(mode="json")
    record["schema_version"] = f"{int(SCHEMA_VERSION.split('.')[0]) + 1}.0"
    (folder / "shards").mkdir()
    with wds.TarWriter(str(folder / "shards" / "shard-000000.tar")) as sink:
        sink.write({"__key__": key, "mp4": mp4, "json": json.dumps(record).encode(),
                    "txt": b"caption"})
    return record["schema_version"]


def test_shards_of_a_newer_schema_stop_training_with_exit_2(tiny_config, tmp_path, capsys):
    version = _newer_schema_shards(tmp_path)
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(tiny_config))
    assert main(["train", "--shards", str(tmp_path), "--config", str(config), "--output",
                 str(tmp_path / "o"), "--max-steps", "1"]) == 2
    assert f"schema_version {version} is newer" in capsys.readouterr().err


def test_a_loader_error_with_loader_workers_ends_the_command(tiny_config, tmp_path):
    """With loader workers (every shipped config but tiny), a training that failed on its
    data printed its error and then never ended: Python's exit sent the workers SIGTERM,
    which they ignore, and waited for them (a break test). The real command, to its exit."""
    version = _newer_schema_shards(tmp_path)
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump({**tiny_config, "data": {**tiny_config.get("data", {}), "num_workers": 2}}))
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "train", "--shards", str(tmp_path), "--config",
                             str(config), "--output", str(tmp_path / "o"), "--max-steps", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the command and its loader workers
        proc.communicate()
        pytest.fail("the command did not end after its error")
    assert proc.returncode == 2 and f"schema_version {version} is newer" in err


def test_a_gif_name_is_written_as_a_gif(tmp_path):
    """``sample --output x.gif`` without --gif wrote MP4 bytes under the .gif name
    (found by a new-user walk-through): a .gif name is a GIF of every frame."""
    from train.sample import write_video

    video = torch.linspace(-1, 1, 3 * 5 * 16 * 16).reshape(3, 5, 16, 16)
    [path] = write_video(video, tmp_path / "s.gif", fps=8)
    assert path == tmp_path / "s.gif" and path.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    with Image.open(path) as gif:
        assert gif.n_frames == 5
    assert not (tmp_path / "s.mp4").exists()
