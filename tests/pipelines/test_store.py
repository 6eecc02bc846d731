"""The output store: local folders, file:// and s3:// URLs; commits; the driver's share
(the lease: test_lease.py)."""

import json
import os
import subprocess
import sys
import tarfile

import pyarrow.parquet as pq
import pytest

from curate import store
from pipelines.workstore import OutputInUseError, WorkStore
from schemas import RejectRecord
from support.pipelines import LOCAL_YAML, TEST_OVERRIDES, make_pipeline
from support.s3 import s3  # noqa: F401 - the module-scoped S3 server fixture
from support.synth import Shot, shots_video
from support.workstores import SETTINGS


def _reject(path: str) -> RejectRecord:
    return RejectRecord(source_path=path, source_id="s", stage="probe", reason="too_short")


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_commits_resume_and_settings_guard_on_a_store_url(tmp_path, kind):
    out = f"memory://vidcurate-test/{tmp_path.name}/out" if kind == "memory" else f"file://{tmp_path}/out"
    with WorkStore(out, SETTINGS) as ws:
        ws.commit("s3://in/a.mp4", [], [_reject("s3://in/a.mp4")], {"probe": 1.5}, duration_s=2.0)
        assert ws.done("s3://in/a.mp4") and not ws.done("s3://in/b.mp4")
    with WorkStore(out, SETTINGS) as again:  # a new run sees exactly the committed sources
        assert again.done("s3://in/a.mp4") and not again.done("s3://in/b.mp4")
        records, rejects, timings, durations = again.load(["s3://in/a.mp4"])
        assert (records, timings, durations) == ([], {"probe": 1.5}, {"s3://in/a.mp4": 2.0})
        assert [r.reason for r in rejects] == ["too_short"]
    names = store.listdir(store.join(store.resolve(out), "work"))
    assert names == ["settings.json", "sources"]  # no lease left, no temporary names
    with pytest.raises(OutputInUseError, match=r"other settings \(changed: probe\)"):
        with WorkStore(out, {"probe": {"min_duration_s": 1.0}}):
            pass
    if kind == "file":
        assert os.path.isdir(tmp_path / "out" / "work" / "sources") and not os.path.exists("file:")


def test_a_run_that_fails_before_any_commit_leaves_no_settings_guard(tmp_path):
    """exit 6 or 7 (no cluster, no node for a stage) left work/settings.json in a new
    folder, and the next run with another pipeline got exit 3 for a folder without work."""
    out = str(tmp_path / "out")
    guard = tmp_path / "out" / "work" / "settings.json"
    with pytest.raises(RuntimeError):
        with WorkStore(out, SETTINGS):
            assert guard.exists()  # written when the run starts
            raise RuntimeError("exit 7: no node can host clip_embed")
    assert not guard.exists()
    assert not (tmp_path / "out").exists()  # the folder it made, empty, goes too
    (tmp_path / "out").mkdir()  # a folder the user made stays
    with pytest.raises(RuntimeError):
        with WorkStore(out, SETTINGS):
            raise RuntimeError("exit 6")
    assert (tmp_path / "out").is_dir() and not guard.exists()
    with WorkStore(out, {"probe": {"min_duration_s": 1.0}}):  # another pipeline takes the folder
        pass
    # a failure after a commit keeps the guard: the folder holds work of those settings
    with pytest.raises(RuntimeError):
        with WorkStore(out, {"probe": {"min_duration_s": 1.0}}) as ws:
            ws.commit("a.mp4", [], [_reject("a.mp4")], {"probe": 1.0})
            raise RuntimeError("later failure")
    with pytest.raises(OutputInUseError, match="other settings"):
        with WorkStore(out, SETTINGS):
            pass


def test_a_source_with_a_stage_error_is_redone_by_the_next_run(tmp_path):
    """A worker without the store's credentials fails the probe with stage_error: the run's
    outputs list the row, and the next run (credentials fixed) redoes the source instead of
    calling it done (before: 'already done by an earlier run', the error kept for ever)."""
    out, src = str(tmp_path / "out"), "s3://in/a.mp4"
    failed = RejectRecord(source_path=src, source_id="s", stage="probe", reason="stage_error",
                          detail="NoCredentialsError: Unable to locate credentials")
    with WorkStore(out, SETTINGS) as ws:
        ws.commit(src, [], [failed], {"probe": 0.1})
        assert not ws.done(src)
        assert [r.reason for r in ws.load([src])[1]] == ["stage_error"]  # in this run's outputs
    with WorkStore(out, SETTINGS) as again:
        assert not again.done(src)
        again.commit(src, [], [_reject(src)], {"probe": 1.0})  # fixed: an ordinary outcome
        assert again.done(src) and [r.reason for r in again.load([src])[1]] == ["too_short"]
    with WorkStore(out, SETTINGS) as third:
        assert third.done(src)
    assert len(os.listdir(tmp_path / "out" / "work" / "sources")) == 1  # the retry commit is gone


def test_a_source_not_found_is_looked_for_again_by_the_next_run(tmp_path):
    """Found by a break test: a listed file made after the run, or one a late node could not
    see, stayed ``not_found`` for good ('already done by an earlier run')."""
    out, src = str(tmp_path / "out"), str(tmp_path / "later.mp4")
    missing = RejectRecord(source_path=src, source_id="s", stage="probe", reason="not_found",
                           detail="FileNotFoundError: no such file")
    with WorkStore(out, SETTINGS) as ws:
        ws.commit(src, [], [missing], {"probe": 0.1})
        assert not ws.done(src) and [r.reason for r in ws.load([src])[1]] == ["not_found"]
    with WorkStore(out, SETTINGS) as again:
        assert not again.done(src)


def test_a_node_that_cannot_see_a_source_this_machine_sees_is_a_stage_error(tmp_path):
    from pipelines.commits import unseen_on_node

    here = tmp_path / "a.mp4"
    here.write_bytes(b"x")
    row = RejectRecord(source_path=str(here), source_id="s", stage="probe", reason="not_found",
                       detail=f"FileNotFoundError: {here}")
    seen = unseen_on_node(row)
    assert seen.reason == "stage_error" and seen.stage == "probe"
    assert seen.detail.startswith(f"a node of the cluster cannot see {here}, which this machine sees")
    gone = row.model_copy(update={"source_path": str(tmp_path / "gone.mp4")})
    url = row.model_copy(update={"source_path": "s3://b/a.mp4"})
    other = row.model_copy(update={"reason": "too_short"})
    assert [unseen_on_node(r) for r in (gone, url, other)] == [gone, url, other]  # unchanged


def test_file_url_output_and_the_driver_reads_no_clip_bytes(ray_session, footage, tmp_path, monkeypatch):
    """The driver opens no clip or frame sample (audit hook on ``open``) and receives rows
    without samples; workers put every clip, frame sample and shard into the store, and
    decode report.html's thumbnails."""
    import pipelines.runner as runner
    from pipelines.runner import run_pipeline

    opened: list[str] = []
    watching = [True]

    def hook(event, args):
        if watching[0] and event == "open" and isinstance(args[0], (str, bytes)):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)  # cannot be removed: ``watching`` switches it off after the run
    rows: list[tuple] = []
    real_loads = runner.loads

    def spy(blob):
        task = real_loads(blob)
        rows.append((getattr(task, "frames", None), getattr(task, "motion", None)))
        return task

    monkeypatch.setattr(runner, "loads", spy)
    out = tmp_path / "out"
    try:
        summary = run_pipeline(make_pipeline(TEST_OVERRIDES).model_copy(update={"keep_work": True}),
                               [footage["cuts"][0], footage["long"][0]], f"file://{out}", progress=False)
    finally:
        watching[0] = False
    assert summary.clips_kept == 3 + 3 and summary.output == str(out)
    clips = sorted(p.name for p in (out / "work" / "clips").iterdir())
    assert len([c for c in clips if c.endswith(".mp4")]) == 6 and len(clips) == 12
    assert not [p for p in opened if p.endswith((".mp4", ".npz", ".tar")) and p.startswith(str(out))]
    assert rows and all(f is None and m is None for f, m in rows)  # metadata only, no samples
    index = pq.read_table(out / "index.parquet").to_pylist()
    packed = set()
    for shard in sorted((out / "shards").glob("shard-*.tar")):
        with tarfile.open(shard) as tar:
            packed |= {m.name.split(".", 1)[0] for m in tar.getmembers()}
    assert packed == {r["clip_id"] for r in index}
    assert not os.path.exists("file:") and not os.path.exists(out / "work" / "lease.json")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/jpeg;base64,") >= 6  # thumbnails of the kept clips, made by workers


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


class _Plan:
    """Stands in for the per-source Ray Data plan: clip rows as the driver receives them."""

    def __init__(self, sources: list[str], per_source: int):
        self.sources, self.per_source = sources, per_source

    def iter_rows(self):
        from curate.tasks import ClipTask
        from pipelines.plan import dumps
        from schemas import ClipRecord, ClipVideo, SourceInfo, Span

        for s, path in enumerate(self.sources):
            src = SourceInfo(path=path, source_id=f"{s:08d}", size_bytes=10**9, duration_s=60.0, fps=25.0,
                             num_frames=1500, width=1920, height=1080, codec="h264")
            for k in range(self.per_source):
                span = Span(shot_index=k, start_frame=k * 100, end_frame=k * 100 + 100, start_s=k * 4.0,
                            end_s=k * 4.0 + 4.0)
                clip = ClipVideo(num_frames=100, fps=25.0, width=456, height=256, duration_s=4.0,
                                 size_bytes=50_000_000)  # 50 MB stated; the driver never sees the bytes
                rec = ClipRecord(clip_id=f"{s:06d}{k:04d}", source=src, span=span, clip=clip)
                yield {"task": dumps(ClipTask(source=src, span=span, clip_id=rec.clip_id, work_dir="",
                                              n_in_source=self.per_source, record=rec, source_path=path))}


def _source_phase_peak(out, n_sources: int, per_source: int, monkeypatch) -> int:
    import tracemalloc

    import pipelines.plan as plan
    import pipelines.runner as runner

    sources = [f"s3://in/v{s:04d}.mp4" for s in range(n_sources)]
    monkeypatch.setattr(plan, "source_plan", lambda todo, *a: _Plan(todo, per_source))  # _source_phase imports it
    run = runner.Runner(make_pipeline(TEST_OVERRIDES), sources, str(out), progress=False)
    with run.store:
        tracemalloc.start()
        try:
            run._source_phase(sources)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert all(run.store.done(s) for s in sources)
    return peak


def test_driver_memory_per_source_is_bounded_while_clip_count_grows(tmp_path, monkeypatch):
    """The driver holds one source's records until its commit, never clip bytes: its peak
    (tracemalloc) in the per-source phase stays flat from 50 to 800 clips of 50 MB each."""
    _source_phase_peak(tmp_path / "warm", 2, 10, monkeypatch)  # first-use caches out of the way
    small = _source_phase_peak(tmp_path / "small", 5, 10, monkeypatch)
    large = _source_phase_peak(tmp_path / "large", 80, 10, monkeypatch)
    print(f"driver peak: {small / 1e3:.0f} kB for 50 clips, {large / 1e3:.0f} kB for 800 clips")
    assert large < 1.5 * small


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


def test_earlier_sources_are_finished_ones_and_a_damaged_commit_is_passed_over(tmp_path, caplog):
    """Found by a break test: an earlier run's stage_error source, not named again, made
    every later run exit 5 without ever being redone; a 0-byte commit made every run
    an internal error."""
    out = str(tmp_path / "out")
    failed = RejectRecord(source_path="/in/bad.mp4", source_id="s", stage="probe", reason="stage_error")
    with WorkStore(out, SETTINGS) as ws:
        ws.commit("/in/good.mp4", [], [_reject("/in/good.mp4")], {})
        ws.commit("/in/bad.mp4", [], [failed], {})
        ws.commit("/in/broken.mp4", [], [], {})
    from curate.ids import text_id

    (tmp_path / "out" / "work" / "sources" / f"{text_id('/in/broken.mp4')}.json").write_bytes(b"")
    with WorkStore(out, SETTINGS) as again:
        assert again.earlier_sources(["/in/new.mp4"]) == ["/in/good.mp4"]
    assert "ignoring an unreadable commit" in caplog.text


def test_a_full_disk_leaves_no_part_file_and_is_a_storage_error(tmp_path, monkeypatch):
    """A write that fails part-way (a full disk: some bytes written, then ENOSPC) raises
    the store's own error from :func:`curate.store.write_bytes` and
    :func:`curate.store.create_new` and leaves no ``.part`` file beside the name (a break
    test found a 0-byte lease part left in ``work/``); the command then says "storage" with
    exit code 2 (read-only and full file systems had been internal errors, exit 1)."""
    import errno

    from fsspec.implementations.local import LocalFileSystem

    from pipelines.exits import store_problem

    def short_write(self, path, value, **kwargs):
        with open(path, "wb") as f:
            f.write(value[:3])
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(LocalFileSystem, "pipe_file", short_write)
    for put in (store.write_bytes, store.create_new):
        with pytest.raises(OSError) as err:
            put(str(tmp_path / "work" / "lease.json"), b"0123456789")
        assert err.value.errno == errno.ENOSPC and store_problem(err.value)
        assert os.listdir(tmp_path / "work") == []
    assert store_problem(OSError(errno.EROFS, "Read-only file system")) and not store_problem(OSError(5, "EIO"))


def test_a_folder_where_an_output_file_goes_is_an_error_naming_it(tmp_path, capsys):
    """Found by a break tester: ``fs.mv`` moved the finished file into a folder at its
    name (an ``index.parquet/`` left by another writer, a ``report.html/``), and the run
    and ``vidcurate report`` passed for done (exit 0). Now the write refuses, nothing goes
    inside the folder, no part file stays, and a run says so before any work (exit 2)."""
    from pipelines.cli import main
    from pipelines.exits import store_problem

    (tmp_path / "out" / "report.html").mkdir(parents=True)
    (tmp_path / "scratch.bin").write_bytes(b"abc")
    target = str(tmp_path / "out" / "report.html")
    for put in (lambda: store.write_bytes(target, b"<html>"), lambda: store.upload(str(tmp_path / "scratch.bin"), target)):
        with pytest.raises(IsADirectoryError) as err:
            put()
        assert err.value.filename == target and store_problem(err.value)
        assert "a folder is where this file goes" in str(err.value)
        assert os.listdir(target) == [] and os.listdir(tmp_path / "out") == ["report.html"]
    (tmp_path / "out" / "report.html").rmdir()
    (tmp_path / "out" / "index.parquet").mkdir()
    argv = ["run", "local", "--input", str(tmp_path / "nothing-needed"), "--output", str(tmp_path / "out"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'out' / 'index.parquet'} is a folder where the run writes a file" in err
    assert os.listdir(tmp_path / "out") == ["index.parquet"] and os.listdir(tmp_path / "out" / "index.parquet") == []
