"""The output store: local folders and store URLs; commits, resume and the settings guard;
which sources the next run redoes; writes that fail (a full disk, a folder in the way).
The driver's share: test_store_driver.py; a real S3 server: test_store_s3.py; shards:
test_store_shards.py; the lease: test_lease.py."""

import os

import pytest

from curate import store
from pipelines.workstore import OutputInUseError, WorkStore
from schemas import RejectRecord
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


def test_earlier_sources_are_finished_ones_and_a_damaged_commit_is_passed_over(tmp_path, capsys):
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
    assert "is damaged (cut short or not a commit): its source's clips are left out" in capsys.readouterr().err


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
