"""The shard reader on bad data: truncated shards (local and remote), sample files that
are not adjacent, shards without a complete sample, too few shards for the loader
workers, clips all shorter than the window, pickle members and newer schema versions."""

from __future__ import annotations

import io
import json
import pickle
import random
import shutil
import tarfile
from pathlib import Path

import fsspec
import pytest
import webdataset as wds

from schemas import SCHEMA_VERSION

from train.data import ClipStream, DataError, SchemaVersionError, decode_sample
from train.shards import SkippedDataWarning, SkipStats

from .synth_shards import CFG, batches, keys_of_epoch, make_mp4, make_record


def test_truncated_shard_is_skipped_with_warning(train_shards, tmp_path):
    shards = sorted((train_shards / "shards").glob("*.tar"))
    for path in shards:
        shutil.copy(path, tmp_path)
    data = shards[0].read_bytes()
    (tmp_path / "shard-999999.tar").write_bytes(data[: len(data) // 2])
    expected = keys_of_epoch(train_shards)
    with pytest.warns(SkippedDataWarning, match="shard-999999.tar: truncated"):
        assert keys_of_epoch(tmp_path) == expected


def cut(data: bytes, where: str) -> bytes:
    """The tar ``data`` cut inside the data of its 5th member, or exactly before its
    5th member's header (a cut that tarfile's stream mode reads as a clean end)."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        member = tf.getmembers()[4]
    return data[: member.offset_data + 100] if where == "mid_member" else data[: member.offset]


@pytest.mark.parametrize("where", ["mid_member", "between_members"])
def test_truncated_shard_yields_nothing(synthetic_shards, tmp_path, where):
    data = (synthetic_shards / "shards" / "shard-000001.tar").read_bytes()
    shutil.copy(synthetic_shards / "shards" / "shard-000000.tar", tmp_path)
    (tmp_path / "shard-000001.tar").write_bytes(cut(data, where))
    with pytest.warns(SkippedDataWarning, match="shard-000001.tar: truncated"):
        keys = keys_of_epoch(tmp_path)
    assert keys == {f"{i:016x}" for i in (0, 1, 3)}  # only the good shard's long clips


def test_shard_with_non_adjacent_sample_files_is_skipped(synthetic_shards, tmp_path):
    src = synthetic_shards / "shards" / "shard-000000.tar"
    with tarfile.open(src) as tf:
        members = [(m, tf.extractfile(m).read()) for m in tf.getmembers()]
    members.append(members.pop(0))  # first sample's first file moves to the end
    with tarfile.open(tmp_path / "shard-000000.tar", "w") as out:
        for m, payload in members:
            out.addfile(m, io.BytesIO(payload))
    shutil.copy(synthetic_shards / "shards" / "shard-000001.tar", tmp_path)
    with pytest.warns(SkippedDataWarning, match="not adjacent"):
        keys = keys_of_epoch(tmp_path)
    assert keys == {f"{i:016x}" for i in range(4, 8)}


class _Boom:
    def __reduce__(self):
        return (Path.touch, (Path("/tmp/vidcurate_unpickled"),))


def test_pickle_members_are_never_decoded(tmp_path):
    marker = Path("/tmp/vidcurate_unpickled")
    marker.unlink(missing_ok=True)
    key, mp4 = "00000000000000aa", make_mp4(24, 24.0)
    with tarfile.open(tmp_path / "shard-000000.tar", "w") as tf:
        files = {"json": make_record(key, 24, 24.0, len(mp4)).model_dump_json().encode(),
                 "mp4": mp4, "pyd": pickle.dumps(_Boom()), "txt": b"caption"}
        for ext, payload in files.items():
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    b = batches(tmp_path, n=1, batch_size=1)[0]
    assert b["key"] == [key] and set(b) >= {"video", "caption"}
    assert not marker.exists()


@pytest.mark.parametrize("where", ["mid_member", "between_members"])
def test_truncated_remote_shard_warns_then_all_bad_raises(synthetic_shards, where):
    data = (synthetic_shards / "shards" / "shard-000001.tar").read_bytes()
    fsspec.filesystem("memory").pipe("/cut/shard-000001.tar", cut(data, where))
    cfg = CFG.model_copy(update={"resampled": False, "shuffle_buffer": 1})
    got = []
    with pytest.warns(SkippedDataWarning, match="shard-000001.tar: truncated"):
        with pytest.raises(DataError, match=r"none of the 1 shard of this loader holds a complete sample "
                                            r"\(an mp4, json and txt under one key\): 1 unreadable"):
            for batch in ClipStream("memory://cut/shard-000001.tar", cfg, 1, seed=0):
                got.append(batch)
    assert len(got) >= 1  # complete samples before the cut still arrive


def test_newer_schema_version_is_a_clear_error_not_a_skipped_sample(tmp_path):
    key, mp4 = "00000000000000bb", make_mp4(24, 24.0)
    record = make_record(key, 24, 24.0, len(mp4)).model_dump(mode="json")
    major, minor = (int(p) for p in SCHEMA_VERSION.split("."))
    record["schema_version"] = f"{major}.{minor + 1}"
    record["a_field_of_the_future"] = 1
    with wds.TarWriter(str(tmp_path / "shard-000000.tar")) as sink:
        sink.write({"__key__": key, "mp4": mp4, "json": json.dumps(record).encode(),
                    "txt": b"caption"})
    with pytest.raises(SchemaVersionError, match=rf"{key}: record schema_version "
                                                 rf"{major}\.{minor + 1} is newer than"):
        batches(tmp_path, n=1, batch_size=1)
    record["schema_version"] = SCHEMA_VERSION  # same version, unknown field: a bad sample
    with pytest.warns(SkippedDataWarning, match="bad_sample"):
        stats = SkipStats()
        raw = {"__url__": "u", "__key__": key, "mp4": mp4, "txt": b"c",
               "json": json.dumps(record).encode()}
        assert decode_sample(raw, CFG, random.Random(0), stats) is None
    assert stats.counts["bad_sample"] == 1


def _tar(path: Path, members: dict[str, bytes]) -> str:
    with tarfile.open(path, "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return str(path)


@pytest.mark.parametrize("resampled", [True, False])
@pytest.mark.parametrize("content", ["empty", "no_captions"])
def test_shards_without_a_complete_sample_raise_instead_of_looping(synthetic_shards, tmp_path, resampled, content):
    # an empty but valid tar (what an interrupted copy can leave), or samples without .txt
    members = {} if content == "empty" else {
        f"{k:04d}.{ext}": (synthetic_shards / "shards" / "shard-000000.tar").read_bytes()[:64]
        for k in range(3) for ext in ("mp4", "json")}
    url = _tar(tmp_path / "shard-000000.tar", members)
    cfg = CFG.model_copy(update={"resampled": resampled})
    with pytest.raises(DataError, match=r"none of the 1 shard of this loader holds a complete sample "
                                        r"\(an mp4, json and txt under one key\): 1 read whole without one") as err:
        next(iter(ClipStream(url, cfg, 1, seed=0)))
    assert ("samples skipped: " in str(err.value)) == (content == "no_captions")


def test_too_few_shards_for_the_loader_workers_is_told_at_once(synthetic_shards):
    cfg = CFG.model_copy(update={"resampled": False, "num_workers": 3})
    with pytest.raises(DataError, match="2 shards cannot feed 1 ranks x 3 loader workers"):
        ClipStream(str(synthetic_shards / "shards"), cfg, 1, seed=0)


def test_clips_all_shorter_than_the_window_are_named_as_the_cause(synthetic_shards, monkeypatch):
    import train.data as data

    monkeypatch.setattr(data, "MAX_CONSECUTIVE_SKIPS", 20)
    cfg = CFG.model_copy(update={"frames": 500})
    with pytest.raises(DataError, match="each clip is shorter than data.frames = 500 at data.fps = 8.0"):
        next(iter(ClipStream(str(synthetic_shards / "shards"), cfg, 1, seed=0)))
