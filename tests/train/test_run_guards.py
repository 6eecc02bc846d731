"""A training run's guards (found by a break test): one run per folder, a loss that goes NaN
stops before it is saved, a stop between steps keeps a checkpoint, a checkpoint that cannot
be written leaves no half file, and what a resume may change."""

from __future__ import annotations

import io
import json
import os
import signal
import tarfile
import threading

import pytest
import yaml

from train import checkpoint
from train.checkpoint import list_checkpoints
from train.cli import main


def _train(config: dict, shards, out, tmp_path, *extra) -> int:
    path = tmp_path / f"cfg-{len(list(tmp_path.glob('cfg-*')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    src = shards if isinstance(shards, str) else str(shards / "shards" / "*.tar")
    return main(["train", "--shards", src, "--config", str(path), "--output", str(out), *extra])


def _on_step(monkeypatch, after):
    """Make each training step return ``after(trainer, loss)`` of its loss; returns the real step."""
    from train import loop

    real = loop.Trainer.train_step
    monkeypatch.setattr(loop.Trainer, "train_step", lambda self, batches: after(self, real(self, batches)))
    return real


def test_a_second_training_into_a_folder_in_use_is_refused(tiny_config, train_shards, tmp_path, capsys):
    import subprocess
    import sys

    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from train.lockfile import lock_output; "
                               "f = lock_output(sys.argv[1], 'train.lock'); print('held', flush=True); time.sleep(60)", str(out)],
                              stdout=subprocess.PIPE, text=True)  # another training holds the folder
    try:
        assert holder.stdout.readline().strip() == "held"
        assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "2") == 3
    finally:
        holder.kill()
        holder.wait()
    assert "is in use by another training (train.lock)" in capsys.readouterr().err
    assert list_checkpoints(out) == []
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "2") == 0  # free again


def test_a_run_leaves_no_lock_and_a_failed_start_no_folder(tiny_config, train_shards, tmp_path, capsys):
    """A new-user trial: train.lock stayed after every run, and a run that failed at once
    (shards not found) left a new folder holding that lock alone; a later one: a run on
    shards with no sample left its log of the start alone."""
    out = tmp_path / "run"
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "1") == 0
    assert list_checkpoints(out) and not (out / "train.lock").exists()
    fresh = tmp_path / "fresh"
    assert _train(tiny_config, str(tmp_path / "nowhere" / "x.tar"), fresh, tmp_path) == 2
    assert "shard files not found" in capsys.readouterr().err
    assert not fresh.exists()
    empty = tmp_path / "empty.tar"  # found, but no sample in it: fails after the run's start is logged
    empty.write_bytes(b"")
    assert _train(tiny_config, str(empty), fresh, tmp_path, "--max-steps", "2") == 2
    assert "holds a complete sample" in capsys.readouterr().err
    assert not fresh.exists()  # a second helper's trial: its log.jsonl alone had kept the folder
    assert _train(tiny_config, str(tmp_path / "nowhere" / "x.tar"), out, tmp_path, "--resume") == 2
    assert list_checkpoints(out) and not (out / "train.lock").exists()  # a folder it did not make stays


def test_a_loss_that_goes_nan_stops_the_run_and_saves_none_of_it(tiny_config, train_shards, tmp_path, capsys,
                                                                   monkeypatch):
    cfg = {**tiny_config, "train": {**tiny_config["train"], "checkpoint_every": 2, "log_every": 1}}
    out = tmp_path / "run"
    _on_step(monkeypatch, lambda trainer, loss: loss * float("nan") if trainer.step >= 3 else loss)
    assert _train(cfg, train_shards, out, tmp_path, "--max-steps", "6") == 2
    err = capsys.readouterr().err
    assert "train: the loss is not finite (NaN or infinite) by step 3" in err
    assert [p.name for p in list_checkpoints(out)] == ["ckpt-00000002.pt"]
    for line in (out / "log.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in log.jsonl"))


@pytest.mark.parametrize("bad,said", [({"optim": {"lr": float("inf")}}, "optim.lr"),
                                      ({"optim": {"betas": [2.0, 0.5]}}, "betas [2.0, 0.5]"),
                                      ({"data": {"fps": float("inf")}}, "data.fps")])
def test_config_values_that_cannot_train_are_refused(tiny_config, train_shards, tmp_path, capsys, bad, said):
    cfg = {k: {**v, **bad.get(k, {})} if isinstance(v, dict) else v for k, v in tiny_config.items()}
    assert _train(cfg, train_shards, tmp_path / "run", tmp_path, "--max-steps", "1") == 2
    assert said in capsys.readouterr().err


def test_a_config_that_is_no_utf8_is_refused(train_shards, tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"optim:\n  lr: 1e-4 \xff\xfe\n")
    assert main(["train", "--shards", str(train_shards), "--config", str(path), "--output", str(tmp_path / "o")]) == 2
    assert "invalid trainer config" in capsys.readouterr().err


def test_an_output_that_is_a_file_is_refused_before_anything_is_built(tiny_config, train_shards, tmp_path, capsys):
    out = tmp_path / "file"
    out.write_text("x")
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "1") == 2
    assert f"--output {out} is a file" in capsys.readouterr().err
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    assert _train(tiny_config, train_shards, dangling, tmp_path, "--max-steps", "1") == 2
    assert f"--output {dangling} is a link to nothing" in capsys.readouterr().err


def test_sigterm_stops_after_the_step_with_a_checkpoint(tiny_config, train_shards, tmp_path, capsys, monkeypatch):
    from train import loop

    cfg = {**tiny_config, "train": {**tiny_config["train"], "checkpoint_every": 100}}
    out = tmp_path / "run"

    def after(trainer, loss):
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-step, acted on after it
        return loss

    real = _on_step(monkeypatch, after)
    assert threading.current_thread() is threading.main_thread()
    assert _train(cfg, train_shards, out, tmp_path, "--max-steps", "50") == 143
    assert "terminated (SIGTERM): checkpoint of step 3 kept; add --resume" in capsys.readouterr().err
    assert [p.name for p in list_checkpoints(out)] == ["ckpt-00000003.pt"]
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None) or callable(signal.getsignal(signal.SIGTERM))
    monkeypatch.setattr(loop.Trainer, "train_step", real)
    assert _train(cfg, train_shards, out, tmp_path, "--max-steps", "4", "--resume") == 0
    assert [p.name for p in list_checkpoints(out)][-1] == "ckpt-00000004.pt"


def test_a_signal_before_the_first_step_removes_the_folder_the_run_made(tiny_config, train_shards, tmp_path,
                                                                        monkeypatch):
    """A break test: under DDP, torchrun's SIGTERM to the other ranks when one failed at once
    left the new folder with a log of the start (and each retry added a line)."""
    from pipelines.exits import Terminated
    from train import loop

    def stopped(self, batches):
        raise Terminated()  # as a signal acts under DDP: at once

    monkeypatch.setattr(loop.Trainer, "train_step", stopped)
    fresh = tmp_path / "fresh"
    assert _train(tiny_config, train_shards, fresh, tmp_path, "--max-steps", "2") == 143
    assert not fresh.exists()


@pytest.mark.parametrize("entry", ["vidcurate", "python -m train.cli"])
@pytest.mark.parametrize("sig,code,said", [(signal.SIGTERM, 143, "terminated (SIGTERM)"),
                                           (signal.SIGINT, 130, "interrupted")])
def test_a_second_signal_stops_at_once_with_its_own_exit_code(tiny_config, train_shards, tmp_path, capsys,
                                                            monkeypatch, sig, code, said, entry):
    """A break test: a second SIGTERM had exited 130, as a Ctrl-C; and ``python -m train.cli``
    (what torchrun starts; a signal under DDP acts at once, as a second one does) had ended
    in a traceback and exit 1."""
    def after(trainer, loss):
        if trainer.step == 2:
            os.kill(os.getpid(), sig)  # the first asks for a stop after this step
            os.kill(os.getpid(), sig)  # the second stops at once
        return loss

    from pipelines.cli import main as vidcurate

    vidcurate = vidcurate if entry == "vidcurate" else main
    _on_step(monkeypatch, after)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(tiny_config))
    assert vidcurate(["train", "--shards", str(train_shards / "shards" / "*.tar"), "--config", str(path),
                      "--output", str(tmp_path / "run"), "--max-steps", "50"]) == code
    last = capsys.readouterr().err.strip().splitlines()[-1]
    # checkpoint_every 100: none was written, and the line says so (it had promised checkpoints)
    assert last.startswith(said) and "before the first checkpoint: nothing to resume from" in last
    assert not list((tmp_path / "run").glob("checkpoints/*.pt"))


def test_a_second_signal_after_a_checkpoint_says_it_is_kept(tiny_config, train_shards, tmp_path, capsys,
                                                           monkeypatch):
    def after(trainer, loss):
        if trainer.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    from pipelines.cli import main as vidcurate

    _on_step(monkeypatch, after)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({**tiny_config, "train": {**tiny_config["train"], "checkpoint_every": 1}}))
    assert vidcurate(["train", "--shards", str(train_shards / "shards" / "*.tar"), "--config", str(path),
                      "--output", str(tmp_path / "run"), "--max-steps", "50"]) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("interrupted: the checkpoints written so far are kept; add --resume")
    assert [p.name for p in (tmp_path / "run" / "checkpoints").glob("*.pt")] == ["ckpt-00000001.pt"]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"),
                                   RuntimeError("basic_ios::clear: iostream error")])  # full at the zip's end
def test_a_checkpoint_that_cannot_be_written_leaves_no_half_file(tiny_config, train_shards, tmp_path, capsys,
                                                                  monkeypatch, error):
    out = tmp_path / "run"
    real = checkpoint.torch.save

    def full(state, path):
        real(state, path)  # the bytes land, then the disk is full
        raise error

    monkeypatch.setattr(checkpoint.torch, "save", full)
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "2") == 2
    err = capsys.readouterr().err
    assert "could not be written" in err and str(error).split("] ")[-1] in err
    assert not list((out / "checkpoints").glob("*"))  # no .tmp left
    monkeypatch.setattr(checkpoint.torch, "save", real)
    (out / "checkpoints" / "ckpt-00000009.pt.tmp").write_bytes(b"half")  # a run killed mid-save
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "2") == 0
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["ckpt-00000002.pt"]


def test_a_resume_may_change_the_loader_and_caption_dropout_and_names_any_other_key(tiny_config, train_shards,
                                                                                   tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "2") == 0
    looser = {**tiny_config, "data": {**tiny_config["data"], "num_workers": 1, "decode_threads": 2},
              "text": {**tiny_config["text"], "caption_dropout": 0.3}}
    assert _train(looser, train_shards, out, tmp_path, "--max-steps", "3", "--resume") == 0
    bigger = {**tiny_config, "data": {**tiny_config["data"], "height": 48}}
    assert _train(bigger, train_shards, out, tmp_path, "--max-steps", "4", "--resume") == 2
    assert "checkpoint was trained with data.height = 16, this config has 48 (a resume may change only " \
           "data.num_workers, data.decode_threads of it)" in capsys.readouterr().err
    wider = {**tiny_config, "model": {**tiny_config["model"], "base_channels": 32}}
    assert _train(wider, train_shards, out, tmp_path, "--max-steps", "4", "--resume") == 2
    assert "model.base_channels = 16, this config has 32 (a resume may change nothing in 'model')" \
           in capsys.readouterr().err  # it had read "may change only nothing of it" (a break test)


def test_a_record_with_an_impossible_rate_is_a_skipped_sample(tiny_config, train_shards, tmp_path, capsys):
    [shard] = sorted((train_shards / "shards").glob("*.tar"))[:1]
    with tarfile.open(shard) as tf:
        members = [(m, tf.extractfile(m).read()) for m in tf if m.isfile()]
    first = next(i for i, (m, _) in enumerate(members) if m.name.endswith(".json"))
    rec = json.loads(members[first][1])
    rec["clip"]["fps"] = 0.0
    members[first] = (members[first][0], json.dumps(rec).encode())
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tf:
        for info, data in members:
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with pytest.warns(Warning, match="bad_sample"):
        assert _train(tiny_config, str(bad), tmp_path / "run", tmp_path, "--max-steps", "2") == 0


def test_a_remote_shard_that_is_not_there_is_skipped_with_its_reason(train_shards, tmp_path):
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from train.shards import SkipStats, SkippedDataWarning, iter_samples

    [shard] = sorted((train_shards / "shards").glob("*.tar"))[:1]
    (tmp_path / "a.tar").write_bytes(shard.read_bytes())
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        stats = SkipStats()
        with pytest.warns(SkippedDataWarning, match=r"missing.tar: cannot be opened \(HTTP 404 "):
            assert list(iter_samples(f"{base}/missing.tar", stats)) == []
        assert stats.counts["shard"] == 1
        assert len(list(iter_samples(f"{base}/a.tar", stats))) >= 1  # the shard that is there still reads
    finally:
        server.shutdown()
        server.server_close()


def test_sample_refuses_a_guidance_that_is_no_number_and_a_folder_as_output(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sample", "--checkpoint", str(tmp_path), "--prompt", "a", "--output", "x.mp4", "--guidance", "nan"])
    assert exc.value.code == 2 and "must be a finite number of at least 0.0, got nan" in capsys.readouterr().err
    assert main(["sample", "--checkpoint", str(tmp_path), "--prompt", "a", "--output", str(tmp_path)]) == 2
    assert f"--output {tmp_path} is a folder" in capsys.readouterr().err
    # a break test: 1e39 passed as finite and overflowed float32 (a black video, exit 0); any other
    # name than .mp4 or .gif got MP4 bytes
    with pytest.raises(SystemExit) as exc:
        main(["sample", "--checkpoint", str(tmp_path), "--prompt", "a", "--output", "x.mp4", "--guidance", "1e39"])
    assert exc.value.code == 2 and "must be at most 100, got 1e39" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # a break test: an internal error at the generator's seeding
        main(["sample", "--checkpoint", str(tmp_path), "--prompt", "a", "--output", "x.mp4",
              "--seed", "99999999999999999999"])
    assert exc.value.code == 2 and "must be at most 4294967295" in capsys.readouterr().err
    for name in ("s.webm", "s.mkv", "s"):
        assert main(["sample", "--checkpoint", str(tmp_path), "--prompt", "a", "--output", str(tmp_path / name)]) == 2
        assert ": name a .mp4 file (H.264), or a .gif" in capsys.readouterr().err


def test_a_stop_after_the_loss_went_nan_writes_no_checkpoint(tiny_config, train_shards, tmp_path, capsys,
                                                             monkeypatch):
    cfg = {**tiny_config, "train": {**tiny_config["train"], "checkpoint_every": 100, "log_every": 100}}
    out = tmp_path / "run"

    def after(trainer, loss):
        if trainer.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
            return loss * float("nan")
        return loss

    _on_step(monkeypatch, after)
    assert _train(cfg, train_shards, out, tmp_path, "--max-steps", "50") == 2
    assert "the loss or the weights are not finite (NaN or infinite) at step 2" in capsys.readouterr().err
    assert list_checkpoints(out) == []


def test_sigterm_to_the_process_group_with_loader_workers_stops_with_a_checkpoint(tiny_config, train_shards,
                                                                                 tmp_path):
    import subprocess
    import sys
    import time

    cfg = {**tiny_config, "data": {**tiny_config["data"], "num_workers": 1},
           "train": {**tiny_config["train"], "checkpoint_every": 1000, "log_every": 1}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "train.cli", "train", "--shards", str(train_shards / "shards"),
                             "--config", str(path), "--output", str(out), "--max-steps", "500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 120
        for line in proc.stdout:  # the log's JSON lines
            if '"step": 2' in line or time.time() > deadline:
                break
        os.killpg(proc.pid, signal.SIGTERM)  # as systemd and Slurm do: the trainer and its loader workers
        code = proc.wait(120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = proc.stderr.read()
    assert code == 143, err[-2000:]
    assert "terminated (SIGTERM): checkpoint of step" in err and "internal error" not in err
    assert len(list_checkpoints(out)) == 1


def test_a_sigterm_during_the_last_step_lets_the_run_finish(tiny_config, train_shards, tmp_path, monkeypatch):
    out = tmp_path / "run"

    def after(trainer, loss):
        if trainer.step == 3:  # during the last step (train_step has counted it): the run is done
            os.kill(os.getpid(), signal.SIGTERM)
        return loss

    _on_step(monkeypatch, after)
    assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "3") == 0
    assert [p.name for p in list_checkpoints(out)][-1] == "ckpt-00000003.pt"


def test_a_trainer_config_not_found_is_one_train_line(train_shards, tmp_path, capsys):
    """A new-user trial: this error alone had no ``train:`` in front, unlike the others."""
    out = tmp_path / "run"
    assert main(["train", "--shards", str(train_shards), "--config", "nosuch", "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("train: trainer config not found: nosuch") and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_a_training_that_inherits_an_ignored_ctrl_c_keeps_ignoring_it(tiny_config, train_shards, tmp_path,
                                                                      monkeypatch):
    """``vidcurate train ... &`` in a script starts with SIGINT ignored: a Ctrl-C to the
    script does not stop it (its handler had replaced the ignore: a stop after the step)."""
    out = tmp_path / "run"

    def after(trainer, loss):
        if trainer.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    _on_step(monkeypatch, after)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert _train(tiny_config, train_shards, out, tmp_path, "--max-steps", "4") == 0
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
    assert [p.name for p in list_checkpoints(out)][-1] == "ckpt-00000004.pt"
