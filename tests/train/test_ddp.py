"""DDP: two gloo processes on CPU, launched by torchrun, end with identical weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def test_two_gloo_processes_end_with_identical_weights(tiny_config, train_shards, tmp_path):
    # ranks read different clips (non-resampled: shards split by rank; one shard: each rank
    # resamples with its own seed) and each rank has its own noise generator, so only the
    # gradient all-reduce can keep the replicas equal
    tiny_config["data"]["resampled"] = len(list((train_shards / "shards").glob("*.tar"))) < 2
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(tiny_config))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO / "tests" / "train" / "ddp_worker.py"), str(config),
           str(train_shards / "shards"), str(out), "3"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["step"] == ranks[1]["step"] == 3
    for name, w0 in ranks[0]["final"].items():
        assert torch.equal(w0, ranks[1]["final"][name]), name
        assert torch.equal(ranks[0]["ema"][name], ranks[1]["ema"][name]), name
    moved = [n for n, w in ranks[0]["final"].items() if not torch.equal(w, ranks[0]["initial"][n])]
    assert moved  # the replicas trained, they did not just stay at the initial weights
    ckpt = torch.load(out / "checkpoints" / "ckpt-00000003.pt", weights_only=True)
    gens = [r["generator"] for r in ckpt["rng"]["ranks"]]
    assert len(gens) == 2 and not torch.equal(gens[0], gens[1])  # each rank's own stream
    cpus = [r["torch"] for r in ckpt["rng"]["ranks"]]  # dropout's too (a break test: it was shared)
    assert not torch.equal(cpus[0], cpus[1])
    assert json.loads((out / "log.jsonl").read_text().splitlines()[0])["world_size"] == 2


def test_the_log_counts_the_skipped_data_of_every_rank(tiny_config, tmp_path):
    """A break test: a shard cut short that only rank 1 reads was in no log record (the log
    showed rank 0's counts alone)."""
    from .synth_shards import CLIPS, write_shard

    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(4):  # not resampled: rank r reads shards r and r + 2
        write_shard(shards / f"shard-00000{i}.tar", CLIPS[2 * i:2 * i + 2], first=2 * i)
    cut = shards / "shard-000001.tar"
    cut.write_bytes(cut.read_bytes()[:3000])
    tiny_config["data"].update(resampled=False, frames=4, fps=8.0, height=16, width=16)
    tiny_config["train"]["log_every"] = 1
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(tiny_config))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(REPO / "tests" / "train" / "ddp_worker.py"), str(config), str(shards), str(out), "3"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    assert steps[-1]["step"] == 3 and steps[-1].get("skipped", {}).get("shard") == 1, records
