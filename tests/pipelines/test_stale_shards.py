"""A rerun that packs fewer shards removes the earlier run's extra shards only once its
own index and manifest are written: stopped before that, the output's index still names
shards that exist. A break test had seen a rerun killed between the removal and the
index's put leave an index naming 9 missing shards (on S3 and on disk)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

import pipelines.runend as runner
from pipelines.runner import run_pipeline
from support.pipelines import TEST_OVERRIDES, make_pipeline
from support.synth import Shot, shots_video


def _pipeline(target_mb: float):
    overrides = {**TEST_OVERRIDES, "shards": {"target_mb": target_mb}}
    return make_pipeline(overrides)


def _named_shards(out) -> set[str]:
    return {r["shard"] for r in pq.read_table(out / "index.parquet", columns=["shard"]).to_pylist()}


def test_extra_shards_outlive_a_rerun_stopped_before_its_manifest(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        shots_video(str(src / f"v{i}.mp4"), [Shot(80 + i, 40), Shot(90 + i, 45)], 160, 120)
    out = tmp_path / "out"
    run_pipeline(_pipeline(0.001), [str(src)], str(out), progress=False)  # a shard a clip
    first = sorted(p.name for p in (out / "shards").glob("*.tar"))
    assert len(first) == 6 and _named_shards(out) == set(first)

    for step in ("write_parquet", "write_manifest"):  # stopped as the index, then the manifest, is written
        def stopped(*args, **kwargs):
            raise KeyboardInterrupt  # a Ctrl-C (or a kill) there

        monkeypatch.setattr(runner, step, stopped)
        with pytest.raises(KeyboardInterrupt):
            run_pipeline(_pipeline(256), [str(src)], str(out), progress=False)
        monkeypatch.undo()
        on_disk = {p.name for p in (out / "shards").glob("*.tar")}
        assert _named_shards(out) <= on_disk, f"stopped at {step}: the index names shards that are gone"

    run_pipeline(_pipeline(256), [str(src)], str(out), progress=False)  # the same command again
    assert sorted(p.name for p in (out / "shards").glob("*.tar")) == ["shard-000000.tar"]
    assert _named_shards(out) == {"shard-000000.tar"}
