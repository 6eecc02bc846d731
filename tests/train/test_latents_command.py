"""``vidcurate latents`` as a command: its one-line refusals, its lock, reruns that keep the
copies an earlier run finished, and stops. Found by a break test."""

from __future__ import annotations

import json
import os
import shutil
import tarfile

import pytest

from train import latent_copies
from train.cli import main


def _latents(config: dict, shards, out, tmp_path, *extra) -> int:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config))
    return main(["latents", "--shards", str(shards), "--config", str(path), "--output", str(out), *extra])


@pytest.mark.parametrize(("extra", "said"), [
    (["--device", "bogus"], "--device 'bogus' is no torch device"),
    (["--device", "cuda:99"], "--device cuda:99: "),  # no GPU here, or fewer than 100
])
def test_a_device_that_is_not_here_is_refused_in_one_line(latent_config, synthetic_shards, tmp_path, capsys,
                                                          extra, said):
    assert _latents(latent_config, synthetic_shards, tmp_path / "lat", tmp_path, *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"latents: {said}") and "internal error" not in err


def test_a_store_url_or_a_frame_size_the_vae_cannot_take_is_refused(latent_config, synthetic_shards, tmp_path,
                                                                     capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _latents(latent_config, synthetic_shards, "s3://bucket/lat", tmp_path) == 2
    assert "--output s3://bucket/lat: give a local folder" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "s3:")  # (a folder 's3:' had been made here)
    (tmp_path / "afile").write_text("x")  # (an internal error, a review)
    assert _latents(latent_config, synthetic_shards, tmp_path / "afile", tmp_path) == 2
    assert "--output " + str(tmp_path / "afile") + " is a file or a link to nothing" in capsys.readouterr().err
    from diffusers import AutoencoderKL

    from .tiny_sd import vae_config

    AutoencoderKL(**{**vae_config((8, 16, 16)), "down_block_types": ("DownEncoderBlock2D",) * 3,
                     "up_block_types": ("UpDecoderBlock2D",) * 3}).save_pretrained(str(tmp_path / "vae4"))
    latent_config["vae"] = {"name": str(tmp_path / "vae4")}
    latent_config["data"]["height"] = latent_config["data"]["width"] = 18  # even, but no multiple of 4
    assert _latents(latent_config, synthetic_shards, tmp_path / "odd", tmp_path, "--device", "cpu") == 2
    assert "(18x18) must be multiples of the VAE's downsampling factor 4" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "odd" / "shards" / "shard-000000.tar")


def test_a_second_latents_run_into_one_output_is_refused(latent_config, synthetic_shards, tmp_path, capsys):
    """Two runs into one output had published a shard of both runs' bytes, one saying success."""
    import subprocess
    import sys

    out = tmp_path / "lat"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from train.lockfile import lock_output; "
                               "f = lock_output(sys.argv[1], 'latents.lock'); print('held', flush=True); "
                               "time.sleep(60)", str(out)], stdout=subprocess.PIPE, text=True)
    try:  # (a POSIX record lock is held per process: another process holds it)
        assert holder.stdout.readline().strip() == "held"
        assert _latents(latent_config, synthetic_shards, out, tmp_path, "--device", "cpu") == 3
        assert "is in use by another latents run (latents.lock)" in capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert _latents(latent_config, synthetic_shards, out, tmp_path, "--device", "cpu") == 0
    assert not (out / "latents.lock").exists()


def test_a_rerun_keeps_finished_copies_and_drops_those_of_inputs_now_left_out(latent_config, synthetic_shards,
                                                                              tmp_path, capsys):
    """A rerun after a stop had encoded every shard again; a copy of an input shard that the
    rerun left out (now truncated) had stayed, and the trainer read it on."""
    shards = tmp_path / "in"
    shutil.copytree(synthetic_shards / "shards", shards)
    out = tmp_path / "lat"
    assert _latents(latent_config, shards, out, tmp_path, "--device", "cpu") == 0
    first, second = (out / "shards" / f"shard-00000{i}.tar" for i in (0, 1))
    stamp = os.stat(first).st_mtime_ns
    capsys.readouterr()
    data = (shards / "shard-000001.tar").read_bytes()
    (shards / "shard-000001.tar").write_bytes(data[: len(data) // 2])  # cut short since
    with pytest.warns(UserWarning):
        assert _latents(latent_config, shards, out, tmp_path, "--device", "cpu") == 0
    said = capsys.readouterr().out
    assert "in 0 shards" in said and "1 finished by an earlier run kept" in said
    assert os.stat(first).st_mtime_ns == stamp and not second.exists()
    # another run's shard under the same name, however old: made again (its mtime alone had passed)
    shutil.copy(synthetic_shards / "shards" / "shard-000001.tar", shards / "shard-000000.tar")
    os.utime(shards / "shard-000000.tar", (1e9, 1e9))
    (shards / "shard-000001.tar").unlink()
    assert _latents(latent_config, shards, out, tmp_path, "--device", "cpu") == 0
    assert os.stat(first).st_mtime_ns != stamp and "in 1 shards" in capsys.readouterr().out
    stamp = os.stat(first).st_mtime_ns
    latent_config["data"]["fps"] = 4.0  # other latents: the copy is made again
    assert _latents(latent_config, shards, out, tmp_path, "--device", "cpu") == 0
    assert os.stat(first).st_mtime_ns != stamp
    stamp = os.stat(first).st_mtime_ns
    latent_config["vae"]["store_dtype"] = "float32"  # another dtype too (a review: it had been kept)
    assert _latents(latent_config, shards, out, tmp_path, "--device", "cpu") == 0
    assert os.stat(first).st_mtime_ns != stamp
    assert json.loads((out / "latents.json").read_text())["shard-000000.tar"]["size"] == \
        os.path.getsize(shards / "shard-000000.tar")


def test_incomplete_samples_count_among_those_left_out(latent_config, synthetic_shards, tmp_path, capsys):
    """A sample without its caption was left out and the summary said 0 left out."""
    import io

    with tarfile.open(synthetic_shards / "shards" / "shard-000000.tar") as tf:
        members = [(m, tf.extractfile(m).read()) for m in tf if m.isfile()]
    first = members[0][0].name.split(".")[0]
    (tmp_path / "in").mkdir()
    with tarfile.open(tmp_path / "in" / "shard-000000.tar", "w") as tf:
        for m, data in members:
            if m.name != f"{first}.txt":
                tf.addfile(m, io.BytesIO(data))
    with pytest.warns(UserWarning, match="incomplete_sample"):
        assert _latents(latent_config, tmp_path / "in", tmp_path / "lat", tmp_path, "--device", "cpu") == 0
    said = capsys.readouterr().out
    assert "wrote 3 samples" in said and "(1 bad or incomplete samples and 0 truncated" in said


@pytest.mark.parametrize(("stop", "code", "said"), [(KeyboardInterrupt, 130, "interrupted: "),
                                                   ("term", 143, "terminated (SIGTERM): ")])
def test_a_stop_removes_the_copy_in_hand_and_says_what_a_rerun_does(latent_config, synthetic_shards, tmp_path,
                                                                   capsys, monkeypatch, stop, code, said):
    from train.latents_cli import _Terminated

    real, calls = latent_copies.encode_sample, []

    def encode(*args):
        calls.append(1)
        if len(calls) == 6:  # in the second shard
            raise _Terminated() if stop == "term" else KeyboardInterrupt()
        return real(*args)

    monkeypatch.setattr(latent_copies, "encode_sample", encode)
    out = tmp_path / "lat"
    assert _latents(latent_config, synthetic_shards, out, tmp_path, "--device", "cpu") == code
    assert capsys.readouterr().err.strip() == (f"{said}the shard copies finished so far are kept; the same command "
                                               "copies the rest (finished copies of local shards are not encoded again)")
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["shard-000000.tar"]
    assert not (out / "latents.lock").exists()
