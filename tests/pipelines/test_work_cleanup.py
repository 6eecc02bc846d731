"""Cleaning ``work/clips`` after a run (``keep_work: false``) without losing resume.

Truth: the same pipeline over the same two generated sources gives byte-identical
shards whether ``work/clips`` is kept, cleaned, restored from the shards on a resumed
run with an added input, or re-encoded from the sources when no shard holds a clip
(its pieces without a run: test_work_restore.py).
"""

import json
import os
import re
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.runner import run_pipeline
from support.pipelines import TEST_OVERRIDES, make_pipeline
from support.s3 import s3  # noqa: F401 - the module-scoped S3 server fixture
from support.synth import Shot, shot_sources

# Two shots per source (25 fps): every shot becomes one kept clip of 1.6-2.0 s.
SHOTS = {"a": [Shot(21, 40), Shot(22, 45, pan=(0.08, 0.0))], "b": [Shot(23, 50), Shot(24, 42)]}


def _pipeline(keep_work: bool):
    return make_pipeline(TEST_OVERRIDES).model_copy(update={"keep_work": keep_work})


def _shards(out) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "shards").glob("shard-*.tar"))}


def _whole_run_rate(out) -> str:
    """The 'video s per wall s' cell of the whole run in ``out``'s report.html."""
    found = re.search(r'<td>whole run</td><td class="n">[^<]*</td><td class="n">([^<]*)</td>',
                      (out / "report.html").read_text())
    assert found, "no whole-run row in report.html"
    return found.group(1).replace(",", "")


def _commit(out, videos, name: str):
    from curate.ids import text_id

    return out / "work" / "sources" / f"{text_id(videos[name])}.json"


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, str]:
    return shot_sources(tmp_path_factory.mktemp("cleanup-footage"), SHOTS)


@pytest.fixture(scope="module")
def kept(ray_session, videos, tmp_path_factory):
    """A fresh run over both sources with ``keep_work: true``: the reference output."""
    out = tmp_path_factory.mktemp("keep") / "out"
    summary = run_pipeline(_pipeline(True), [videos["a"], videos["b"]], str(out), progress=False)
    assert summary.clips_kept == 4
    return out


@pytest.fixture(scope="module")
def cleaned(ray_session, videos, tmp_path_factory):
    """The same run with ``keep_work: false``."""
    out = tmp_path_factory.mktemp("clean") / "out"
    run_pipeline(_pipeline(False), [videos["a"], videos["b"]], str(out), progress=False)
    return out


def test_keep_work_true_keeps_every_clip_and_frame_sample(kept):
    index = pq.read_table(kept / "index.parquet").to_pylist()
    names = {p.name for p in (kept / "work" / "clips").iterdir()}
    for row in index:
        assert {f"{row['clip_id']}.mp4", f"{row['clip_id']}.frames.npz"} <= names
        assert (kept / "work" / "clips" / f"{row['clip_id']}.mp4").stat().st_size == row["clip"]["size_bytes"]


def test_cleaned_run_drops_work_clips_and_writes_the_same_shards(kept, cleaned):
    assert not (cleaned / "work" / "clips").exists()
    assert sorted(p.name for p in (cleaned / "work").iterdir()) == ["settings.json", "sources"]
    assert len(list((cleaned / "work" / "sources").glob("*.json"))) == 2  # resume still knows
    assert _shards(cleaned) and _shards(cleaned) == _shards(kept)
    assert pq.read_table(cleaned / "index.parquet").equals(pq.read_table(kept / "index.parquet"))
    m = json.loads((cleaned / "manifest.json").read_text())
    assert m["pipeline"]["keep_work"] is False
    assert m["timings"]["video_s"] == pytest.approx(m["hours_in"] * 3600) and m["counts"]["resumed"] == 0
    html = (cleaned / "report.html").read_text()
    assert html.count("frames: frame sample") == html.count("frames: ") == 4  # made before cleaning


def test_a_run_that_fails_before_the_shards_are_written_keeps_work_clips(kept, videos, tmp_path, ray_session,
                                                                          monkeypatch, capsys):
    """Packing fails (a stand-in for a crash there): nothing is deleted, and the same
    command then resumes without source work and cleans up."""
    import pipelines.runend as runner

    out = tmp_path / "out"
    real = runner.pack_shards

    def broken(jobs, workers):
        raise RuntimeError("packing failed")

    monkeypatch.setattr(runner, "pack_shards", broken)
    with pytest.raises(RuntimeError, match="packing failed"):
        run_pipeline(_pipeline(False), [videos["a"], videos["b"]], str(out), progress=False)
    index = pq.read_table(kept / "index.parquet").to_pylist()
    names = {p.name for p in (out / "work" / "clips").iterdir()}
    assert {f"{r['clip_id']}.mp4" for r in index} | {f"{r['clip_id']}.frames.npz" for r in index} <= names
    monkeypatch.setattr(runner, "pack_shards", real)
    capsys.readouterr()
    summary = run_pipeline(_pipeline(False), [videos["a"], videos["b"]], str(out), progress=True)
    assert summary.resumed == 2 and _shards(out) == _shards(kept)
    # a new-user walk-through: the bar showed 0/0 sources with no word of the resume until the summary
    assert "resuming: 2 of 2 sources were done by an earlier run; 0 to curate" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    phases = manifest["timings"]["phase_wall_s"]
    assert "restore" not in phases and "per_source" not in phases
    # this run curated no video: the report gives it no throughput (it had given all of hours_in / wall)
    assert manifest["timings"]["video_s"] == 0.0 and manifest["counts"]["resumed"] == 2
    assert _whole_run_rate(out) == "-"
    assert not (out / "work" / "clips").exists()


def test_added_input_resumes_from_the_shards_and_matches_a_fresh_run(kept, videos, tmp_path, ray_session):
    """Run over a, clean, then a + b on the same output: a is not processed again (its
    commit is untouched) and its clips come back out of the shard, not from the source,
    which is overwritten with junk for the second run; shards equal the fresh run's."""
    out = tmp_path / "out"
    run_pipeline(_pipeline(False), [videos["a"]], str(out), progress=False)
    assert not (out / "work" / "clips").exists()
    commit = _commit(out, videos, "a")
    stamp = commit.stat().st_mtime_ns
    original, st = open(videos["a"], "rb").read(), os.stat(videos["a"])
    try:
        with open(videos["a"], "wb") as f:
            # junk of the same size and mtime (a file that changed is curated again):
            # re-encoding from here would reject every clip
            f.write(b"not a video any more".ljust(len(original), b"\0"))
        os.utime(videos["a"], ns=(st.st_atime_ns, st.st_mtime_ns))
        summary = run_pipeline(_pipeline(False), [videos["a"], videos["b"]], str(out), progress=False)
    finally:
        with open(videos["a"], "wb") as f:
            f.write(original)
        os.utime(videos["a"], ns=(st.st_atime_ns, st.st_mtime_ns))  # as the other tests' runs saw it
    assert summary.resumed == 1 and summary.clips_kept == 4
    assert commit.stat().st_mtime_ns == stamp
    manifest = json.loads((out / "manifest.json").read_text())
    phases = manifest["timings"]["phase_wall_s"]
    assert "restore" in phases and "per_source" in phases
    # throughput is over the video this run curated (b: 92 frames at 25 fps), not a + b
    timings = manifest["timings"]
    assert timings["video_s"] == pytest.approx(92 / 25, abs=0.05)
    assert manifest["hours_in"] * 3600 == pytest.approx((85 + 92) / 25, abs=0.1)
    assert float(_whole_run_rate(out)) == pytest.approx(timings["video_s"] / timings["wall_s"], rel=1e-3)
    assert "1 source(s) on this output were done by earlier runs" in (out / "report.html").read_text()
    assert _shards(out) == _shards(kept)
    assert pq.read_table(out / "index.parquet").equals(pq.read_table(kept / "index.parquet"))
    assert not (out / "work" / "clips").exists()


def test_a_clip_in_no_shard_is_encoded_again_from_its_source(kept, cleaned, videos, tmp_path, ray_session):
    """Without an index naming the shards (as for a clip dedup dropped in an earlier run),
    the extract stage encodes the clips again from their source spans: same bytes."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(cleaned, out)
    (out / "index.parquet").unlink()
    summary = run_pipeline(_pipeline(True), [videos["a"], videos["b"]], str(out), progress=False)
    assert summary.resumed == 2 and summary.clips_kept == 4
    assert _shards(out) == _shards(kept)
    clips = out / "work" / "clips"  # keep_work: true this time: the re-encoded files stay
    for row in pq.read_table(kept / "index.parquet").to_pylist():
        assert (clips / f"{row['clip_id']}.mp4").read_bytes() == (
            kept / "work" / "clips" / f"{row['clip_id']}.mp4").read_bytes()
        assert (clips / f"{row['clip_id']}.frames.npz").exists()


def test_a_clip_that_cannot_come_back_is_a_reject_row(cleaned, videos, tmp_path, ray_session):
    """No shard and no readable source: the clip becomes the extract stage's reject row,
    the rest of the run completes."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(cleaned, out)
    index = pq.read_table(out / "index.parquet").to_pylist()
    lost = sorted(r["clip_id"] for r in index if r["source"]["path"] == videos["a"])
    (out / "index.parquet").unlink()
    original, st = open(videos["a"], "rb").read(), os.stat(videos["a"])
    try:
        with open(videos["a"], "wb") as f:
            f.write(b"not a video any more".ljust(len(original), b"\0"))
        os.utime(videos["a"], ns=(st.st_atime_ns, st.st_mtime_ns))  # the same stamp: not redone
        summary = run_pipeline(_pipeline(False), [videos["a"], videos["b"]], str(out), progress=False)
    finally:
        with open(videos["a"], "wb") as f:
            f.write(original)
        os.utime(videos["a"], ns=(st.st_atime_ns, st.st_mtime_ns))  # as the other tests' runs saw it
    assert summary.clips_kept == 2 and len(lost) == 2
    rows = [r for r in pq.read_table(out / "rejects.parquet").to_pylist() if r["clip_id"] in lost]
    assert sorted(r["clip_id"] for r in rows) == lost
    assert all(r["stage"] == "extract" and "work/clips was cleaned" in r["detail"] for r in rows)


def test_s3_output_is_cleaned_and_resumes_with_an_added_input(s3, kept, videos, tmp_path):  # noqa: F811
    """The command with an s3:// output (moto on loopback): after a run over a the bucket
    holds no work/clips key; a + b then gives the fresh run's shard bytes."""
    pipe = tmp_path / "pipe.yaml"
    pipe.write_text(yaml.safe_dump(_pipeline(False).model_dump(mode="json")))
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **s3.env)

    def cli(*inputs: str) -> None:
        res = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", str(pipe), "--input", *inputs,
                              "--output", s3.url("clean"), "--quiet"], capture_output=True, text=True,
                             env=env, timeout=900, stdin=subprocess.DEVNULL)
        assert res.returncode == 0, res.stderr[-3000:]

    cli(videos["a"])
    files = s3.files("clean")
    assert not [k for k in files if k.startswith("clean/work/clips/")]
    assert len([k for k in files if k.startswith("clean/work/sources/")]) == 1
    cli(videos["a"], videos["b"])
    fs = s3.fs()
    got = {k.rsplit("/", 1)[1]: fs.cat_file(f"{s3.bucket}/{k}") for k in s3.files("clean/shards")}
    assert got == _shards(kept)
    assert not [k for k in s3.files("clean") if k.startswith("clean/work/clips/")]
    # the same command again: nothing new, the shards are kept (pipelines/unchanged.py)
    modified = {k: fs.info(f"{s3.bucket}/{k}")["LastModified"] for k in s3.files("clean/shards")}
    cli(videos["a"], videos["b"])
    fs.invalidate_cache()
    assert {k: fs.info(f"{s3.bucket}/{k}")["LastModified"] for k in s3.files("clean/shards")} == modified
    manifest = json.loads(fs.cat_file(f"{s3.bucket}/clean/manifest.json"))
    assert "restore" not in manifest["timings"]["phase_wall_s"]
    assert "clean/work/packing" not in s3.files("clean/work")


def test_a_run_naming_fewer_inputs_keeps_the_earlier_sources_clips(kept, cleaned, videos, tmp_path, ray_session):
    """Found by a break test: a rerun on a subset of the inputs rewrote index and shards
    with that subset only, and the other clips (not in work/clips any more) were gone.
    Now the output keeps every committed source: the same shards as the run over both."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(cleaned, out)
    summary = run_pipeline(_pipeline(False), [videos["a"]], str(out), progress=False)
    assert (summary.resumed, summary.earlier, summary.sources, summary.clips_kept) == (1, 1, 2, 4)
    assert "kept from earlier runs: 1 source(s) on this output not among this run's inputs " \
           "(a new --output starts an empty dataset)" in summary.lines()
    assert _shards(out) == _shards(kept)
    assert pq.read_table(out / "index.parquet").equals(pq.read_table(kept / "index.parquet"))


def test_a_run_stopped_while_packing_leaves_the_earlier_shards_and_index(kept, videos, tmp_path, ray_session,
                                                                         monkeypatch):
    """Found by a break test: a run killed after rewriting a shard and before writing the
    index left index rows without samples and samples in no index. Shards are packed
    aside (work/shards-next) and moved in only when all are packed: a stop while packing
    leaves the earlier dataset whole, and the same command then finishes it."""
    import pipelines.runend as runner

    out = tmp_path / "out"
    run_pipeline(_pipeline(False), [videos["a"]], str(out), progress=False)
    before = _shards(out), (out / "index.parquet").read_bytes()
    real = runner.pack_shards

    def packed_then_killed(jobs, workers):
        real(jobs, workers)  # every new shard written...
        raise KeyboardInterrupt  # ...and the run stopped before any was moved in

    monkeypatch.setattr(runner, "pack_shards", packed_then_killed)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(_pipeline(False), [videos["a"], videos["b"]], str(out), progress=False)
    assert (_shards(out), (out / "index.parquet").read_bytes()) == before
    assert list((out / "work" / "shards-next").glob("*/shard-*.tar"))  # packed, not in shards/
    monkeypatch.setattr(runner, "pack_shards", real)
    run_pipeline(_pipeline(False), [videos["a"], videos["b"]], str(out), progress=False)
    assert _shards(out) == _shards(kept) and not (out / "work" / "shards-next").exists()
    assert pq.read_table(out / "index.parquet").equals(pq.read_table(kept / "index.parquet"))
