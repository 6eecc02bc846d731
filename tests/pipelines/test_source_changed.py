"""A source file that changes size while it is read, or after it was curated (a file still
being copied into the input folder), is curated again, not kept short for ever."""

import json
import os
import socket

import pyarrow.parquet as pq
import pytest

from curate.tasks import SourceTask
from pipelines.exits import USAGE, run_outcome
from pipelines.rows import PassSteps, dumps, loads
from pipelines.runner import run_pipeline
from pipelines.workstore import RETRY_REASONS
from support.pipelines import TEST_OVERRIDES, make_pipeline
from support.synth import Shot, shots_video

FPS = 25.0


@pytest.fixture(scope="module")
def long_ts(tmp_path_factory):
    """One 8 s shot (200 frames at 25 fps) as MPEG-TS, which stays playable when cut off at
    any packet: ``(path, bytes)``."""
    folder = tmp_path_factory.mktemp("growing")
    mp4 = str(folder / "whole.mp4")
    shots_video(mp4, [Shot(seed=5, frames=200, pan=(0.03, 0.0))], fps=FPS)
    ts = str(folder / "whole.ts")
    import av

    with av.open(mp4) as src, av.open(ts, "w", format="mpegts") as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)
    with open(ts, "rb") as f:
        return ts, f.read()


def _ends(out) -> list[float]:
    return sorted(r["span"]["end_s"] for r in pq.read_table(out / "index.parquet").to_pylist())


def test_a_source_grown_since_it_was_curated_is_curated_again(long_ts, tmp_path, capsys):
    path, whole = long_ts
    source = tmp_path / "in" / "clip.ts"
    source.parent.mkdir()
    part = len(whole) // 188 * 188 // 2  # half of it, on a TS packet boundary: a copy under way
    source.write_bytes(whole[:part])
    out = tmp_path / "out"
    pipeline = make_pipeline(TEST_OVERRIDES)
    run_pipeline(pipeline, [str(source.parent)], str(out), progress=False)
    short = _ends(out)
    assert short and max(short) < 6.0  # about the first half of the 8 s
    commit = json.loads(next((out / "work" / "sources").glob("*.json")).read_text())
    assert (commit["size_bytes"], commit["mtime_ns"], commit["host"]) == (
        part, source.stat().st_mtime_ns, socket.gethostname())

    source.write_bytes(whole)  # the copy finished
    capsys.readouterr()
    run_pipeline(pipeline, [str(source.parent)], str(out), progress=False)
    assert f"{source} is {len(whole)} bytes, {part} when it was curated" in capsys.readouterr().err
    assert max(_ends(out)) > 7.5  # the whole 8 s now
    commit = json.loads(next((out / "work" / "sources").glob("*.json")).read_text())
    assert commit["size_bytes"] == len(whole)

    capsys.readouterr()
    run_pipeline(pipeline, [str(source.parent)], str(out), progress=False)  # unchanged: kept as is
    assert "when it was curated" not in capsys.readouterr().err
    m = json.loads((out / "manifest.json").read_text())
    assert "per_source" not in m["timings"]["phase_wall_s"]


def test_a_source_that_changes_during_the_pass_is_a_retry_row(long_ts, tmp_path):
    p = make_pipeline(TEST_OVERRIDES)
    steps = PassSteps(p.stages[0], p.stages[1], p.clip_stages(), p.stages[2].clip_settings())
    path, whole = long_ts
    row = steps.probe_row({"task": dumps(SourceTask(path=path, work_dir=str(tmp_path)))})
    src = loads(row["task"])
    assert not src.rejected and src.source.size_bytes == len(whole)
    assert src.stamp[:2] == (len(whole), os.stat(path).st_mtime_ns)
    src.stamp = (len(whole) - 4096, *src.stamp[1:])  # what the probe saw of a file that has grown since
    rows = list(steps.one_pass({"task": dumps(src)}))
    assert len(rows) == 1  # the source's marker task, no clip
    task = loads(rows[0]["task"])
    assert task.span is None and task.record is None
    (reject,) = task.source_rejects
    assert reject.reason == "source_changed" and reject.stage == "split"
    assert f"{len(whole) - 4096} bytes when it was read, {len(whole)} now" in reject.detail

    assert "source_changed" in RETRY_REASONS  # committed to be redone by the next run
    code, message = run_outcome(5, {"split:source_changed": 1}, 0.1)
    assert code == USAGE and "inputs: 1 source changed while being read" in message



@pytest.mark.parametrize("start", [b"", 3000])
def test_a_source_rejected_at_its_probe_while_copied_is_curated_once_complete(long_ts, tmp_path, capsys, start):
    """A break test: a file caught at its first bytes (empty: ``truncated``; 3000 bytes:
    ``too_short``) was committed without a size, so the rerun after the copy finished
    kept the reject for ever."""
    path, whole = long_ts
    source = tmp_path / "in" / "clip.ts"
    source.parent.mkdir()
    source.write_bytes(whole[:start] if isinstance(start, int) else start)
    out = tmp_path / "out"
    pipeline = make_pipeline(TEST_OVERRIDES)
    run_pipeline(pipeline, [str(source)], str(out), progress=False)
    (row,) = pq.read_table(out / "rejects.parquet").to_pylist()
    assert row["stage"] == "probe" and row["reason"] in ("truncated", "too_short")
    source.write_bytes(whole)
    summary = run_pipeline(pipeline, [str(source)], str(out), progress=False)
    assert "when it was curated: curating it again" in capsys.readouterr().err
    assert summary.clips_kept >= 2 and pq.read_table(out / "rejects.parquet").num_rows == 0


def test_a_replaced_file_of_the_same_size_is_curated_again(long_ts, tmp_path, capsys):
    """A break test: a curated file replaced by another of exactly its size kept the old
    file's clips; the modification time tells them apart."""
    path, whole = long_ts
    source = tmp_path / "in" / "clip.ts"
    source.parent.mkdir()
    source.write_bytes(whole)
    out = tmp_path / "out"
    pipeline = make_pipeline(TEST_OVERRIDES)
    run_pipeline(pipeline, [str(source)], str(out), progress=False)
    first = {r["source"]["source_id"] for r in pq.read_table(out / "index.parquet").to_pylist()}
    other = bytearray(whole)
    other[len(other) // 2] ^= 0xFF  # another file, the same size
    st = source.stat()
    source.write_bytes(bytes(other))
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    capsys.readouterr()
    run_pipeline(pipeline, [str(source)], str(out), progress=False)
    assert f"{source} was modified since it was curated: curating it again" in capsys.readouterr().err
    again = {r["source"]["source_id"] for r in pq.read_table(out / "index.parquet").to_pylist()}
    assert len(again) == 1 and again != first  # the new file's fingerprint


def test_a_source_that_changed_before_its_commit_keeps_nothing(long_ts, tmp_path):
    """The driver's check at the commit covers the paths the pass does not (a source
    rejected at its probe, spans extracted one by one, a break test's growing 2 MB source
    with 5 clips kept and exit 0): a source whose file changed since its stamp commits one
    ``source_changed`` row, no clip, and is redone by the next run."""
    from curate.tasks import ClipTask, file_stamp
    from pipelines.commits import SourceCommits
    from pipelines.progress import Progress
    from pipelines.workstore import WorkStore
    from support.workstores import SETTINGS

    path, whole = long_ts
    p = make_pipeline(TEST_OVERRIDES)
    steps = PassSteps(p.stages[0], p.stages[1], p.clip_stages(), p.stages[2].clip_settings())
    with WorkStore(str(tmp_path / "out"), SETTINGS) as work:
        tasks = [loads(r["task"]) for r in steps.run_local(path, work.root)]
        assert len(tasks) >= 2 and all(t.record is not None for t in tasks)
        size, mtime, host = file_stamp(path)
        tasks[0].stamp = (size - 4096, mtime, host)  # what the probe saw
        SourceCommits(work, Progress(enabled=False)).deliver(path, tasks)
        assert not work.done(path)  # a .retry commit
        records, rejects, _, _ = work.load([path])
    assert records == [] and [(r.stage, r.reason) for r in rejects] == [("probe", "source_changed")]
    assert f"{size - 4096} bytes when it was read, {size} now" in rejects[0].detail


def test_stamps_of_two_machines_compare_by_size_only():
    """Copies of a dataset on each node (no shared disk) have one size but their own mtimes:
    a driver's stamp is compared with a worker's by size only, or every source would be
    redone (or rejected as changed) on every run."""
    from curate.tasks import stamp_changed

    assert not stamp_changed((100, 5, "node-a"), (100, 9, "node-b"))
    assert stamp_changed((100, 5, "node-a"), (100, 9, "node-a"))
    assert stamp_changed((100, 5, "node-a"), (101, 5, "node-b"))
    assert not stamp_changed(None, (100, 5, "node-a")) and not stamp_changed((100, 5, "node-a"), None)


def test_a_presigned_address_signed_again_is_the_same_source(long_ts, tmp_path):
    """A break test: the same object under a new ``X-Amz-Signature`` was a new source on the
    same output, curated again, its earlier clips turned into duplicates. Signing
    parameters are no part of a source's name (``curate.ids.source_key``); parameters
    that name what is served stay."""
    import functools
    import http.server
    import threading

    from curate.ids import source_key

    assert source_key("https://h/a.mp4?X-Amz-Signature=1&X-Amz-Expires=9&versionId=7#t=2") == \
        "https://h/a.mp4?versionId=7"
    assert source_key("https://h/a.mp4?sv=1&se=2&sp=r&sig=3") == "https://h/a.mp4"
    assert source_key("https://h/watch?id=123&st=40") == "https://h/watch?id=123&st=40"  # no sig: st stays
    assert source_key("/data/a.mp4?x=1") == "/data/a.mp4?x=1"

    path, whole = long_ts
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "clip.ts").write_bytes(whole)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/clip.ts?X-Amz-Expires=600&X-Amz-Signature="
    out, pipeline = tmp_path / "out", make_pipeline(TEST_OVERRIDES)
    try:
        first = run_pipeline(pipeline, [url + "aaa", url + "bbb"], str(out), progress=False)
        assert first.sources == 1 and first.clips_kept >= 2
        again = run_pipeline(pipeline, [url + "ccc"], str(out), progress=False)
    finally:
        server.shutdown()
        server.server_close()
    assert again.resumed == 1 and again.clips_kept == first.clips_kept
    # the index names the address given now (the earlier signature may have expired)
    assert {r["source"]["path"] for r in pq.read_table(out / "index.parquet").to_pylist()} == {url + "ccc"}
    assert pq.read_table(out / "rejects.parquet").num_rows == 0  # no duplicate of itself
    assert "per_source" not in json.loads((out / "manifest.json").read_text())["timings"]["phase_wall_s"]
