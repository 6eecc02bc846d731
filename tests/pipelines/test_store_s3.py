"""Inputs and outputs on a real S3 server (moto on loopback): a rerun after losing a
commit, a shard and the manifest redoes that source only and gives the same bytes."""

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq

from support.pipelines import LOCAL_YAML
from support.s3 import s3  # noqa: F401 - the module-scoped S3 server fixture
from support.synth import Shot, shots_video


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "run", LOCAL_YAML, *args, "--quiet"],
                          capture_output=True, text=True, env=env, timeout=900, stdin=subprocess.DEVNULL)


def test_s3_input_and_output_resume_gives_identical_shards(s3, tmp_path):  # noqa: F811
    """Inputs and outputs in a real S3 server on loopback (moto); a rerun after losing one
    commit, one shard and the manifest redoes that source only and gives the same bytes."""
    fs = s3.fs()
    for i in range(2):
        local = tmp_path / f"v{i}.mp4"
        shots_video(str(local), [Shot(60 + i, 40), Shot(70 + i, 45)], 160, 120)
        fs.put_file(str(local), f"{s3.bucket}/in/v{i}.mp4")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **s3.env)
    args = ["--input", s3.url("in") + "/", "--output", s3.url("out")]
    first = _run(args, env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert not os.path.exists("s3:") and "clips kept: 4" in first.stdout
    files = s3.files("out")
    manifest = json.loads(fs.cat_file(f"{s3.bucket}/out/manifest.json"))
    shards = {s["name"]: s["sha256"] for s in manifest["shards"]}
    assert shards and all(f"out/shards/{n}" in files for n in shards)
    assert "out/work/lease.json" not in files and not [k for k in files if k.endswith(".part")]
    with fs.open(f"{s3.bucket}/out/index.parquet", "rb") as f:
        index = pq.read_table(f).to_pylist()
    assert len(index) == 4
    assert {r["source"]["path"] for r in index} == {s3.url("in", f"v{i}.mp4") for i in range(2)}
    import pyarrow.dataset as pads

    assert pads.dataset(f"{s3.bucket}/out/index.parquet", filesystem=fs).to_table().num_rows == 4
    commits = sorted(k for k in files if k.startswith("out/work/sources/"))
    assert len(commits) == 2
    shard_bytes = {n: fs.cat_file(f"{s3.bucket}/out/shards/{n}") for n in shards}
    fs.rm_file(f"{s3.bucket}/{commits[0]}")
    fs.rm_file(f"{s3.bucket}/out/shards/{sorted(shards)[0]}")
    fs.rm_file(f"{s3.bucket}/out/manifest.json")

    again = _run(args, env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "1 already done by an earlier run" in again.stdout
    assert {n: fs.cat_file(f"{s3.bucket}/out/shards/{n}") for n in shards} == shard_bytes
    with fs.open(f"{s3.bucket}/out/index.parquet", "rb") as f:
        assert pq.read_table(f).to_pylist() == index
