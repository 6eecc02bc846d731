"""A rerun that would write the output's own shards keeps them (pipelines/unchanged.py)."""

import hashlib
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


def test_a_run_stopped_while_writing_shards_is_never_kept(source, tmp_path, monkeypatch):
    """A break test: a run with other captions killed after its shard moves, before its
    index and manifest, left shards of its own captions (the same sizes: tar pads to
    10 KiB) beside the earlier run's index and manifest, and the next run kept them. Its
    mark stays until a manifest is written, so the next run packs again."""
    import pipelines.runend as runner

    out = tmp_path / "out"
    first_pipe = make_pipeline(TEST_OVERRIDES)
    run_pipeline(first_pipe, [source], str(out), progress=False)
    first = _manifest(out)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands for the kill: the shards are moved, nothing after
    monkeypatch.setattr(runner, "write_parquet", killed)
    other = make_pipeline({**TEST_OVERRIDES, "caption": {"pan_threshold": 0.002, "zoom_threshold": 0.002}})
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(other, [source], str(out), progress=False)
    monkeypatch.undo()
    shard = out / "shards" / first["shards"][0]["name"]
    assert hashlib.sha256(shard.read_bytes()).hexdigest() != first["shards"][0]["sha256"]  # other captions
    assert shard.stat().st_size == first["shards"][0]["bytes"]  # at the same size
    assert (out / "work" / "packing").exists()
    assert earlier_manifest(str(out), first_pipe.model_dump(mode="json")) is None

    run_pipeline(first_pipe, [source], str(out), progress=False)
    assert _manifest(out)["shards"] == first["shards"] and not (out / "work" / "packing").exists()
    assert hashlib.sha256(shard.read_bytes()).hexdigest() == first["shards"][0]["sha256"]


def test_kept_shards_lose_what_stopped_runs_left_beside_them(source, tmp_path):
    """A break test: keeping the shards skipped the writer's clean-up, so a stale
    ``shard-000009.tar`` (duplicate samples for a ``shards/*.tar`` reader), a ``.part``
    file and a stopped run's staged copies stayed for good."""
    out = tmp_path / "out"
    pipeline = make_pipeline(TEST_OVERRIDES)
    run_pipeline(pipeline, [source], str(out), progress=False)
    first = _manifest(out)["shards"]
    shards = out / "shards"
    (shards / "shard-000009.tar").write_bytes((shards / first[0]["name"]).read_bytes())
    (shards / "shard-000000.tar.part").write_bytes(b"x")
    (out / "work" / "shards-next" / "someone").mkdir(parents=True)
    (out / "work" / "shards-next" / "someone" / "shard-000000.tar").write_bytes(b"x")
    run_pipeline(pipeline, [source], str(out), progress=False)
    assert "restore" not in _manifest(out)["timings"]["phase_wall_s"]
    assert sorted(p.name for p in shards.iterdir()) == [s["name"] for s in first]
    assert not (out / "work" / "shards-next").exists()
