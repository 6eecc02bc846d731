"""Names with glob characters (``[``, ``{``) in outputs and inputs, local and on S3.

An existing name wins over glob syntax. fsspec reads ``[``, ``*`` and ``?`` in the paths
of list calls (``cat``, ``rm``, ``copy``) as patterns, and the input rule had been applied
to local paths only: an output named ``out [1]`` failed every run at its end, after all
of its sources were done; ``s3://bucket/Movie [1080p].mp4`` named directly was "no video
files found"; ``inspect`` of an S3 output named ``out{1}`` found no sample (a break test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support.s3 import s3  # noqa: F401 - the module-scoped S3 server fixture
from support.synth import Shot, shots_video

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCAL_YAML = os.path.join(REPO, "pipelines", "local.yaml")


def _cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600, stdin=subprocess.DEVNULL, cwd=REPO)


def _video(path, seed: int) -> None:
    shots_video(str(path), [Shot(seed, 40), Shot(seed + 1, 45)], 160, 120)


@pytest.fixture
def env(s3):  # noqa: F811
    return dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=REPO, **s3.env)


def test_a_local_output_named_with_brackets_finishes_and_resumes(tmp_path, env):
    src = tmp_path / "in"
    src.mkdir()
    _video(src / "a.mp4", 30)
    out = tmp_path / "out [1]"
    for _ in range(2):  # the second run: everything already done, kept
        done = _cli(["run", LOCAL_YAML, "--input", str(src), "--output", str(out), "--quiet"], env)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "clips kept: 2" in done.stdout
    assert json.loads((out / "manifest.json").read_text())["counts"]["clips_kept"] == 2
    assert len(list((out / "shards").glob("*.tar"))) == 1


def test_s3_names_with_brackets_and_braces_as_inputs_and_outputs(tmp_path, s3, env):  # noqa: F811
    fs = s3.fs()
    for i, key in enumerate(["br/Movie [1080p].mp4", "raw [2024]{a,b}*?/b.mp4", "raw [2024]{a,b}*?/c.mp4"]):
        _video(tmp_path / "v.mp4", 40 + 3 * i)
        fs.put_file(str(tmp_path / "v.mp4"), f"{s3.bucket}/{key}")
    movie, folder = s3.url("br", "Movie [1080p].mp4"), s3.url("raw [2024]{a,b}*?") + "/"
    for name in ("out [1]", "out{1}"):
        out = s3.url(name)
        for _ in range(2):
            done = _cli(["run", LOCAL_YAML, "--input", movie, "--input", folder, "--output", out, "--quiet"], env)
            assert done.returncode == 0, done.stderr[-3000:]
            assert "sources: 3 (0 rejected" in done.stdout and "clips kept: 6" in done.stdout
        files = s3.files(name)
        assert f"{name}/index.parquet" in files and f"{name}/manifest.json" in files
        shown = _cli(["inspect", out, "--json"], env)
        assert shown.returncode == 0, shown.stderr[-2000:]
        assert len(shown.stdout.splitlines()) == 6
        stats = _cli(["stats", out], env)
        assert stats.returncode == 0 and "clips kept" in stats.stdout, stats.stderr[-2000:]
        assert f"{name}/report.html" in files
