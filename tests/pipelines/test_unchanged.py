"""A rerun that would write the output's own shards keeps them (pipelines/unchanged.py)."""

import json
import os

import pytest

from pipelines.runner import run_pipeline
from pipelines.unchanged import earlier_manifest
from support.pipelines import TEST_OVERRIDES, make_pipeline
from support.synth import Shot, shots_video


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Two shots of 2 s (25 fps): two clips at the test settings."""
    path = str(tmp_path_factory.mktemp("unchanged") / "two.mp4")
    shots_video(path, [Shot(seed=3, frames=50, pan=(0.03, 0)), Shot(seed=4, frames=50, zoom=0.1)], 160, 120)
    return path


def _manifest(out):
    return json.loads((out / "manifest.json").read_text())


def test_a_rerun_with_nothing_new_keeps_the_shards_it_would_write_again(source, tmp_path):
    """A new user's walk-through: a rerun of a finished run copied every clip back out of
    the shards and packed them again, byte for byte the same."""
    out = tmp_path / "out"
    pipeline = make_pipeline(TEST_OVERRIDES)
    run_pipeline(pipeline, [source], str(out), progress=False)
    first = _manifest(out)
    shard = out / "shards" / first["shards"][0]["name"]
    stamp = shard.stat().st_mtime_ns, shard.stat().st_ino
    assert first["counts"]["clips_kept"] == 2 and not (out / "work" / "clips").exists()

    summary = run_pipeline(pipeline, [source], str(out), progress=False)
    again = _manifest(out)
    assert summary.resumed == 1 and "restore" not in again["timings"]["phase_wall_s"]
    assert (shard.stat().st_mtime_ns, shard.stat().st_ino) == stamp  # not written again
    assert again["shards"] == first["shards"]
    assert not (out / "work" / "clips").exists()  # nothing was brought back


def test_a_shard_that_is_not_as_recorded_is_packed_again(source, tmp_path):
    """A shard file cut short (or gone) is no shard to keep: the clips come back and the
    shard is packed again, the same bytes as the first run's."""
    out = tmp_path / "out"
    pipeline = make_pipeline(TEST_OVERRIDES)
    run_pipeline(pipeline, [source], str(out), progress=False)
    first = _manifest(out)["shards"]
    shard = out / "shards" / first[0]["name"]
    with open(shard, "r+b") as f:
        f.truncate(first[0]["bytes"] - 512)
    run_pipeline(pipeline, [source], str(out), progress=False)
    again = _manifest(out)
    assert "restore" in again["timings"]["phase_wall_s"]
    assert again["shards"] == first and os.path.getsize(shard) == first[0]["bytes"]


def test_another_pipeline_writes_its_own_samples(source, tmp_path):
    """Records that a post stage writes otherwise (a caption setting) are no match: the
    shards are packed again with the new captions."""
    out = tmp_path / "out"
    run_pipeline(make_pipeline(TEST_OVERRIDES), [source], str(out), progress=False)
    first = _manifest(out)
    other = make_pipeline({**TEST_OVERRIDES, "caption": {"pan_threshold": 0.5}})
    assert earlier_manifest(str(out), other.model_dump(mode="json")) is None
    assert earlier_manifest(str(out), make_pipeline(TEST_OVERRIDES).model_dump(mode="json")) is not None
    run_pipeline(other, [source], str(out), progress=False)
    again = _manifest(out)
    assert "restore" in again["timings"]["phase_wall_s"] and again["pipeline"] != first["pipeline"]
