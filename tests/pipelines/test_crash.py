"""SIGKILL mid-run, then the same command again: same result, no half shard, no redone source."""

import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import pyarrow.parquet as pq

from support.pipelines import LOCAL_YAML

from support.synth import Shot, render, shots_video, write_video


def _cmd(src, out):
    return [sys.executable, "-m", "pipelines.cli", "run", LOCAL_YAML, "--input", str(src),
            "--output", str(out), "--quiet"]


def _env():
    return dict(os.environ, RAY_USAGE_STATS_ENABLED="0")


def _complete_shards_only(out):
    for shard in (out / "shards").glob("shard-*.tar"):
        with tarfile.open(shard) as tar:
            names = [m.name for m in tar.getmembers()]
        assert len(names) % 3 == 0 and names


def test_kill_and_rerun_equals_uninterrupted(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        shots_video(str(src / f"v{i}.mp4"), [Shot(40 + i, 60 + 20 * i), Shot(50 + i, 70)], 256, 192)
    # One long source (40 s, 4 windows): still in work when the first short one commits.
    # A steady pan over a scene that does not repeat, so its windows are distinct clips
    # (a periodic texture would make them near-duplicates, which dedup rightly drops).
    write_video(str(src / "zlong.mp4"), (render(49, k / 25, 256, 192, pan=(0.06, 0.0)) for k in range(1000)))
    clean = tmp_path / "clean"
    # The kill must land between the first commit and the last. Sources handed back by Ray
    # come 16 clips to a block, so on a loaded machine all six can commit at once (seen
    # once in CI: within 40 ms); such a trial proves nothing and is run again, 3 at most.
    for attempt in range(3):
        killed = tmp_path / f"killed{attempt}"
        proc = subprocess.Popen(_cmd(src, killed), env=_env(), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sources = killed / "work" / "sources"
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            if sources.exists() and any(sources.glob("*.json")):
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        committed = {p.name: p.stat().st_mtime_ns for p in sources.glob("*.json")}
        print(f"attempt {attempt}: committed at the kill: {len(committed)} of 6")
        if len(committed) < 6:
            break
    assert 1 <= len(committed) < 6, "the kill should land mid-run"
    assert not (killed / "manifest.json").exists()
    if (killed / "shards").exists():
        _complete_shards_only(killed)

    subprocess.run(_cmd(src, killed), env=_env(), check=True, capture_output=True, timeout=600)
    subprocess.run(_cmd(src, clean), env=_env(), check=True, capture_output=True, timeout=600)

    for name, mtime in committed.items():  # committed work was not redone
        assert (sources / name).stat().st_mtime_ns == mtime
    keys = lambda out: [r["clip_id"] for r in pq.read_table(out / "index.parquet").to_pylist()]  # noqa: E731
    assert keys(killed) == keys(clean) and len(keys(clean)) == 10 + 4
    shas = lambda out: [s["sha256"] for s in json.loads((out / "manifest.json").read_text())["shards"]]  # noqa: E731
    assert shas(killed) == shas(clean)
    _complete_shards_only(killed)
