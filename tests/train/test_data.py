"""The shard reader: shapes and range, frame stride, skipped shards and clips, safety."""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import shutil
import tarfile
from itertools import islice
from pathlib import Path

import fsspec
import pytest
import torch
import webdataset as wds

from schemas import SCHEMA_VERSION
from train import video_io

from train.config import DataConfig
from train.data import ClipStream, DataError, LoaderState, SchemaVersionError, decode_sample, make_loader
from train.shards import SkippedDataWarning, SkipStats, expand_shards

from .synth_shards import CLIPS, make_mp4, make_record, ramp_level

CFG = DataConfig(frames=8, fps=8.0, height=32, width=24, shuffle_buffer=4, shuffle_initial=2)


def batches(shards, cfg=CFG, n=4, batch_size=2, **kw):
    return list(islice(iter(make_loader(ClipStream(shards, cfg, batch_size, seed=0, **kw))), n))


def keys_of_epoch(shards, cfg=CFG) -> set[str]:
    """Keys of the first pass over non-resampled shards: one worker, batch size 1, no
    shuffle buffer, so the first epoch ends before any key comes again."""
    cfg = cfg.model_copy(update={"resampled": False, "shuffle_buffer": 1, "num_workers": 0})
    keys: set[str] = set()
    for batch in ClipStream(shards, cfg, 1, seed=0):
        if batch["key"][0] in keys:
            return keys
        keys.add(batch["key"][0])
    raise AssertionError("the stream ended")


def test_loader_yields_configured_shape_and_range(train_shards):
    for b in batches(str(train_shards / "shards" / "*.tar")):
        assert b["video"].shape == (2, 3, 8, 32, 24)
        assert b["video"].dtype == torch.float32
        assert b["video"].min() >= -1.0 and b["video"].max() <= 1.0
        assert b["video"].std() > 0  # not a constant tensor
        assert all(isinstance(c, str) and c for c in b["caption"])
        assert b["images"] is None


def test_frames_follow_target_fps_stride(synthetic_shards):
    # 24 fps clips at 8 fps: stride 3; 30 fps: stride 4; 8 fps: stride 1.
    strides = {f"{i:016x}": max(1, round(fps / 8.0)) for i, (_, fps) in enumerate(CLIPS)}
    for b in batches(synthetic_shards, n=6):
        for key, video in zip(b["key"], b["video"]):
            grey = ((video[0, :, 16, 12] + 1) * 127.5).round()
            steps = grey[1:] - grey[:-1]
            expected = ramp_level(strides[key]) - ramp_level(0)
            assert torch.allclose(steps, torch.full_like(steps, expected), atol=2), (key, grey)


def test_short_clips_are_skipped_and_counted(synthetic_shards):
    with pytest.warns(SkippedDataWarning, match="short_clip"):
        keys = keys_of_epoch(synthetic_shards)
    assert f"{2:016x}" not in keys  # the 12-frame clip cannot give 8 frames at stride 3
    assert len(keys) == len(CLIPS) - 1


def test_joint_training_image_frames(synthetic_shards):
    cfg = CFG.model_copy(update={"image_frames": 3})
    b = batches(synthetic_shards, cfg, n=1)[0]
    assert b["images"].shape == (2, 3, 3, 32, 24)


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


def test_shard_specs_braces_globs_and_fsspec(synthetic_shards):
    folder = synthetic_shards / "shards"
    assert expand_shards(str(synthetic_shards)) == expand_shards(str(folder / "*.tar"))
    assert len(expand_shards(str(folder / "shard-{000000..000001}.tar"))) == 2
    with pytest.raises(FileNotFoundError):
        expand_shards(str(folder / "nothing-*.tar"))
    fs = fsspec.filesystem("memory")
    for p in sorted(folder.glob("*.tar")):
        fs.pipe(f"/wds/{p.name}", p.read_bytes())
    assert len(expand_shards("memory://wds/*.tar")) == 2
    assert keys_of_epoch("memory://wds/shard-{000000..000001}.tar") == keys_of_epoch(folder)


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


def test_loader_workers_split_the_shards(synthetic_shards):
    cfg = CFG.model_copy(update={"num_workers": 2, "resampled": False})
    got = batches(synthetic_shards, cfg, n=6)
    assert [b["__worker__"] for b in got] == [0, 1, 0, 1, 0, 1]
    first = {int(k, 16) for b in got[0::2] for k in b["key"]}
    second = {int(k, 16) for b in got[1::2] for k in b["key"]}
    assert first <= {0, 1, 3} and second <= {4, 5, 6, 7}  # shard 0 vs shard 1


def test_ranks_split_the_shards(synthetic_shards):
    cfg = CFG.model_copy(update={"resampled": False})
    rank0 = batches(synthetic_shards, cfg, n=3, rank=0, world_size=2)
    rank1 = batches(synthetic_shards, cfg, n=3, rank=1, world_size=2)
    assert {int(k, 16) for b in rank0 for k in b["key"]} <= {0, 1, 3}
    assert {int(k, 16) for b in rank1 for k in b["key"]} <= {4, 5, 6, 7}


@pytest.mark.parametrize(("workers", "consumed"), [(0, 3), (2, 1), (2, 3)])
def test_resumed_loader_continues_the_same_batches(synthetic_shards, workers, consumed):
    cfg = CFG.model_copy(update={"num_workers": workers})
    straight = batches(synthetic_shards, cfg, n=consumed + 3)
    state = LoaderState(seen=[0] * max(1, workers))  # as make_loader sets it up
    for b in straight[:consumed]:
        state.update(b)
    resumed = batches(synthetic_shards, cfg, n=3, state=state)
    for a, b in zip(straight[consumed:], resumed):
        assert a["key"] == b["key"] and torch.equal(a["video"], b["video"])


def test_a_resume_with_other_loader_workers_restarts_on_new_seeds_and_then_replays(synthetic_shards):
    """A checkpoint of a 2-worker run resumed with 1 worker cannot replay its stream: the
    stream restarts on new seeds (it had restarted on the run's own, training on its first
    batches again: a break test). A later resume of the restarted stream replays it."""
    cfg1 = CFG.model_copy(update={"num_workers": 0})
    fresh = batches(synthetic_shards, cfg1, n=4)
    state = LoaderState(batches=40, seen=[41, 43])
    with pytest.warns(UserWarning, match=r"loader workers changed \(2 -> 1\)"):
        restarted = batches(synthetic_shards, cfg1, n=6, state=state)
    assert [b["key"] for b in restarted[:4]] != [b["key"] for b in fresh]
    assert state.restart == 40
    later = LoaderState(batches=40, seen=[0], restart=40)
    for b in restarted[:3]:
        later.update(b)
    resumed = batches(synthetic_shards, cfg1, n=3, state=later)
    for a, b in zip(restarted[3:], resumed):
        assert a["key"] == b["key"] and torch.equal(a["video"], b["video"])


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


def test_loader_workers_decode_with_the_configured_thread_count(synthetic_shards, tmp_path,
                                                                 monkeypatch):
    # workers are forked after the patch, so they log every decoder they configure
    log = tmp_path / "decoders.txt"

    def logged(stream, threads):
        original(stream, threads)
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {stream.codec_context.thread_count} "
                    f"{stream.codec_context.thread_type.name}\n")

    original = video_io.configure_decoder
    monkeypatch.setattr(video_io, "configure_decoder", logged)
    for threads, kind in ((1, "NONE"), (3, "AUTO")):
        log.unlink(missing_ok=True)
        cfg = CFG.model_copy(update={"num_workers": 2, "decode_threads": threads})
        batches(synthetic_shards, cfg, n=4)
        rows = [line.split() for line in log.read_text().splitlines()]
        assert len(rows) >= 8  # 4 batches of 2 clips
        assert {(r[1], r[2]) for r in rows} == {(str(threads), kind)}
        assert len({r[0] for r in rows}) == 2 and str(os.getpid()) not in {r[0] for r in rows}
    assert DataConfig().decode_threads == 1  # the default: one thread per loader process


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
