"""The shard reader: shapes and range, frame stride, skipped short clips, image frames,
shard specs, loader workers and ranks, resumes, decoder threads (bad data: test_data_bad.py)."""

from __future__ import annotations

import os

import fsspec
import pytest
import torch

from train import video_io

from train.config import DataConfig
from train.data import LoaderState
from train.shardlist import expand_shards
from train.shards import SkippedDataWarning

from .synth_shards import CFG, CLIPS, batches, keys_of_epoch, ramp_level


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


def test_a_run_that_kept_no_clips_is_named_when_no_shard_matches(tmp_path):
    """A new-user trial: ``vidcurate inspect OUT`` on a run that kept nothing said only
    "no shards match"; the output's manifest says why."""
    import json

    (tmp_path / "manifest.json").write_text(json.dumps({"counts": {"clips_kept": 0, "sources": 3}}))
    with pytest.raises(FileNotFoundError, match=r"is a run that kept no clips: see its manifest.json"):
        expand_shards(str(tmp_path))
    (tmp_path / "manifest.json").write_text(json.dumps({"counts": {"clips_kept": 5}}))  # shards gone: no such word
    with pytest.raises(FileNotFoundError) as err:
        expand_shards(str(tmp_path))
    assert "kept no clips" not in str(err.value)


def test_a_file_that_is_no_tar_is_refused_by_name(synthetic_shards):
    """A new-user trial: a run's ``index.parquet`` given as ``--shards`` had started the
    training and then been skipped as "a truncated or corrupt tar"."""
    index = synthetic_shards / "index.parquet"
    index.write_bytes(b"PAR1" + bytes(64) + b"PAR1")
    try:
        with pytest.raises(FileNotFoundError, match=r"not a shard \(a WebDataset \.tar\).*index\.parquet"):
            expand_shards(str(index))
    finally:
        index.unlink()
    shard = expand_shards(str(synthetic_shards))[0]
    assert expand_shards(shard) == [shard]  # a tar under its own name is taken as before


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


@pytest.mark.parametrize("consumed", [1, 3])
def test_a_resumed_loader_counts_skipped_data_since_the_resume(tmp_path, consumed):
    """A break test: the replay to the saved position counted again the incomplete samples
    it re-read, but not the short clips it did not decode, so the counts mixed two scopes."""
    import webdataset as wds

    from .synth_shards import write_shard

    write_shard(tmp_path / "a.tar", CLIPS[:4])
    write_shard(tmp_path / "b.tar", CLIPS[4:], first=4)
    with wds.TarWriter(str(tmp_path / "c.tar")) as sink:  # samples without their caption
        for k in range(3):
            sink.write({"__key__": f"{100 + k:016x}", "mp4": b"x", "json": b"{}"})
    shards = str(tmp_path / "*.tar")
    with pytest.warns(SkippedDataWarning):
        straight = batches(shards, n=consumed + 4)
    state = LoaderState(seen=[0])
    for b in straight[:consumed]:
        state.update(b)
    with pytest.warns(SkippedDataWarning):
        resumed = batches(shards, n=4, state=state)
    before = straight[consumed - 1]["__skipped__"]
    for a, b in zip(straight[consumed:], resumed):
        assert a["key"] == b["key"]
        assert b["__skipped__"] == {k: n - before.get(k, 0) for k, n in a["__skipped__"].items()
                                    if n > before.get(k, 0)}
    assert {"incomplete_sample", "short_clip"} <= set(straight[-1]["__skipped__"])  # both kinds were met


def test_a_shard_gone_bad_before_a_resume_is_still_said_and_counted(tmp_path):
    """A review: the replay read it while the counts were muted, marked it bad, and then
    skipped it in silence for the rest of the run."""
    from .synth_shards import write_shard

    write_shard(tmp_path / "a.tar", CLIPS[:4])
    write_shard(tmp_path / "b.tar", CLIPS[4:], first=4)
    straight = batches(str(tmp_path / "*.tar"), n=3)
    state = LoaderState(seen=[0])
    for b in straight:
        state.update(b)
    data = (tmp_path / "a.tar").read_bytes()
    (tmp_path / "a.tar").write_bytes(data[: len(data) // 2])
    with pytest.warns(SkippedDataWarning, match=r"skipped shard \(1 so far\): .*a\.tar"):
        resumed = batches(str(tmp_path / "*.tar"), n=3, state=state)
    assert resumed[-1]["__skipped__"]["shard"] == 1


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


class _StuckAfterOne(torch.utils.data.IterableDataset):
    """One item per loader worker, then a read that does not end."""

    def __iter__(self):
        import time

        yield torch.zeros(1)
        time.sleep(600)


def test_close_loader_ends_workers_stuck_in_a_read(monkeypatch):
    """Workers ignore SIGTERM (the trainer acts on it); one busy in a read that does not end
    outlived torch's shutdown and held the command's exit (a review). Shutdown's joins
    are shortened here (torch's MP_STATUS_CHECK_INTERVAL, 5 s)."""
    from torch.utils.data import DataLoader, _utils

    from train.data import _leave_signals_to_the_trainer, close_loader

    monkeypatch.setattr(_utils, "MP_STATUS_CHECK_INTERVAL", 0.5)
    batches = iter(DataLoader(_StuckAfterOne(), batch_size=None, num_workers=2,
                              worker_init_fn=_leave_signals_to_the_trainer))
    assert [next(batches).shape for _ in range(2)] == [torch.Size([1])] * 2
    workers = list(batches._workers)
    close_loader(batches)
    assert workers and not any(w.is_alive() for w in workers)


class _Stopped(KeyboardInterrupt):
    """What the trainer's DDP signal handler raises (pipelines.exits.Terminated's stand-in)."""


def test_a_signal_while_the_loader_closes_is_delivered_after_its_workers_are_gone(monkeypatch):
    """Under DDP a SIGTERM raises at once; one that came while close_loader joined the
    workers ended it there, and the workers outlived the trainer until torchrun's SIGKILL
    (a DDP break test, 1 stop in 6). The signal is now held until they are gone, then
    raised through the trainer's own handler."""
    import signal

    from torch.utils.data import DataLoader, _utils

    from train.data import _leave_signals_to_the_trainer, close_loader

    def stop(signum, frame):
        raise _Stopped()

    monkeypatch.setattr(_utils, "MP_STATUS_CHECK_INTERVAL", 0.5)
    batches = iter(DataLoader(_StuckAfterOne(), batch_size=None, num_workers=2,
                              worker_init_fn=_leave_signals_to_the_trainer))
    next(batches)
    workers, shutdown = list(batches._workers), batches._shutdown_workers

    def signalled_shutdown():
        os.kill(os.getpid(), signal.SIGTERM)  # the signal lands as the shutdown starts
        for _ in range(1000):  # Python runs a handler between bytecodes: give it many
            pass
        shutdown()

    batches._shutdown_workers = signalled_shutdown
    before = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(_Stopped):
            close_loader(batches)
        alive = [w.is_alive() for w in workers]
        assert signal.getsignal(signal.SIGTERM) is stop  # the trainer's handler is back
    finally:
        del batches._shutdown_workers  # the iterator's __del__ calls it: no signal then
        signal.signal(signal.SIGTERM, before)
        shutdown()  # (torch's own, which also takes its SIGCHLD handler off: then no kill below is an error)
        for w in workers:
            w.kill()
    assert alive == [False, False]
