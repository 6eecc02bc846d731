"""Writing the shards into the output store: the same bytes packed by one Ray task per
shard or one after another, and no shard moved in when the check before the moves fails."""

import pytest

from curate import store
from pipelines.workstore import OutputInUseError


def test_shards_are_the_same_bytes_packed_in_parallel_or_one_by_one(curated_run, ray_session, tmp_path):
    """The clip-to-shard plan comes from the records alone (any input order); one Ray task
    per shard gives the same bytes as packing one shard after another in this process."""
    from curate.shards import ShardStage
    from pipelines.raytasks import ray_workers
    from schemas import ClipRecord, read_records

    records = read_records(ClipRecord, str(curated_run / "index.parquet"))
    sizes = [r.clip.size_bytes for r in records]
    stage = ShardStage(target_mb=sum(sizes) / 3 / 1e6)  # about three shards

    def clip_file(clip_id: str) -> str:
        return store.join(str(curated_run), "work", "clips", f"{clip_id}.mp4")

    serial = stage.write([r.model_copy(deep=True) for r in records], clip_file, str(tmp_path / "serial"))
    shuffled = [r.model_copy(deep=True) for r in reversed(records)]
    parallel = stage.write(shuffled, clip_file, str(tmp_path / "parallel"), pack=ray_workers().pack_shards)
    assert len(serial) >= 3 and parallel == serial
    assert sum(s.samples for s in serial) == len(records)
    for info in serial:
        one = (tmp_path / "serial" / "shards" / info.name).read_bytes()
        assert one == (tmp_path / "parallel" / "shards" / info.name).read_bytes()
        members = [r for r in shuffled if r.shard == info.name]
        assert len(members) == info.samples
        assert len(members) == 1 or sum(r.clip.size_bytes for r in members) <= stage.target_mb * 1e6


def test_no_shard_moves_in_when_the_check_before_the_moves_fails(curated_run, tmp_path):
    """Found by a break test: a run that lost its lease while packing still moved its
    shards in (and both runs' staged shards shared one folder). Each run stages under its
    own name and checks before moving; a failed check moves nothing."""
    from curate.shards import ShardStage
    from schemas import ClipRecord, read_records

    records = read_records(ClipRecord, str(curated_run / "index.parquet"))

    def clip_file(clip_id: str) -> str:
        return store.join(str(curated_run), "work", "clips", f"{clip_id}.mp4")

    def taken_over():
        raise OutputInUseError("another vidcurate run took over")

    out = tmp_path / "out"
    (out / "work" / "shards-next" / "other-run").mkdir(parents=True)  # a stopped run's leftovers
    (out / "work" / "shards-next" / "other-run" / "shard-000000.tar").write_bytes(b"old")
    with pytest.raises(OutputInUseError):
        ShardStage().write(records, clip_file, str(out), staging="me", before_moves=taken_over)
    assert not (out / "shards").exists()
    assert [p.name for p in (out / "work" / "shards-next").iterdir()] == ["me"]  # leftovers swept
    assert ShardStage().write(records, clip_file, str(out), staging="me")[0].samples == len(records)
    assert not (out / "work" / "shards-next").exists() and (out / "shards" / "shard-000000.tar").exists()
