"""A source file that changes size while it is read, or after it was curated (a file still
being copied into the input folder), is curated again, not kept short for ever."""

import json

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
    assert commit["size_bytes"] == part

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
    src.source.size_bytes -= 4096  # what the probe saw of a file that has grown since
    rows = list(steps.one_pass({"task": dumps(src)}))
    assert len(rows) == 1  # the source's marker task, no clip
    task = loads(rows[0]["task"])
    assert task.span is None and task.record is None
    (reject,) = task.source_rejects
    assert reject.reason == "source_changed" and reject.stage == "split"
    assert f"{len(whole) - 4096} bytes when it was read, {len(whole)} now" in reject.detail

    assert "source_changed" in RETRY_REASONS  # committed to be redone by the next run
    code, message = run_outcome(5, {"split:source_changed": 1}, 0.1)
    assert code == USAGE and "1 sources changed size while they were read" in message

