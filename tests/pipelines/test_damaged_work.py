"""A work area damaged between runs (a copy cut short, a file emptied, a disk that lost
its last writes): the next run mends what it can and refuses what it cannot tell.

Truth: the same pipeline over the same two generated sources; the run after the damage
must give the reference run's shard bytes, or stop with exit 3 naming the file. Found by a
break test of interrupted and resumed runs: an emptied commit stopped every later run with
an internal error naming no file, a clip cut short in ``work/clips`` went into the shards
of a run that exited 0, and a run without ``work/settings.json`` took other settings.
"""

import shutil

import pytest

from pipelines.lease import OutputInUseError
from pipelines.runner import run_pipeline
from support.pipelines import TEST_OVERRIDES, make_pipeline
from support.synth import Shot, shot_sources

SHOTS = {"a": [Shot(31, 40), Shot(32, 45, pan=(0.08, 0.0))], "b": [Shot(33, 50), Shot(34, 42)]}


def _run(out, videos):
    pipeline = make_pipeline(TEST_OVERRIDES).model_copy(update={"keep_work": True})
    return run_pipeline(pipeline, [videos["a"], videos["b"]], str(out), progress=False)


def _shards(out) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "shards").glob("shard-*.tar"))}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, str]:
    return shot_sources(tmp_path_factory.mktemp("damaged-footage"), SHOTS)


@pytest.fixture(scope="module")
def reference(ray_session, videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("damaged-ref") / "out"
    assert _run(out, videos).clips_kept == 4
    return out


def test_an_emptied_or_cut_commit_is_curated_again_with_a_warning(reference, videos, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    commits = sorted((out / "work" / "sources").glob("*.json"))
    assert len(commits) == 2
    commits[0].write_bytes(b"")
    summary = _run(out, videos)
    assert f"warning: {commits[0]} is damaged (cut short or not a commit): curating its source again" \
        in capsys.readouterr().err
    assert summary.resumed == 1 and summary.clips_kept == 4
    assert _shards(out) == _shards(reference)
    data = commits[1].read_bytes()
    commits[1].write_bytes(data[: len(data) // 2])  # cut short: no longer JSON
    assert _run(out, videos).resumed == 1
    assert _shards(out) == _shards(reference)


def test_a_clip_cut_short_in_work_clips_is_made_again_before_the_shards(reference, videos, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    shutil.rmtree(out / "shards")  # as a run stopped after its commits, before its shards
    (out / "index.parquet").unlink()
    clip = sorted((out / "work" / "clips").glob("*.mp4"))[1]
    whole = clip.read_bytes()
    clip.write_bytes(whole[:1000])
    assert _run(out, videos).clips_kept == 4
    assert clip.read_bytes() == whole
    assert _shards(out) == _shards(reference)


@pytest.mark.parametrize("damage", ["missing", "emptied", "cut"])
def test_committed_work_without_a_readable_settings_guard_is_refused(reference, videos, tmp_path, damage):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    guard = out / "work" / "settings.json"
    if damage == "missing":
        guard.unlink()
    else:
        guard.write_bytes(b"" if damage == "emptied" else guard.read_bytes()[:20])
    with pytest.raises(OutputInUseError) as err:
        _run(out, videos)
    what = "is missing" if damage == "missing" else "is damaged"
    assert str(err.value).startswith(f"{guard} {what}, so the settings that made the 2 sources committed")
    assert _shards(out) == _shards(reference)


def test_a_commit_of_the_wrong_shape_or_records_is_no_internal_error(reference, videos, tmp_path, capsys):
    """A review: a commit of the right keys but not the right values passed the first check
    and failed where the records were read (exit 1). One of the wrong shape is curated again
    at once; one whose records do not validate is left out of that run's outputs, said, and
    curated again by the next run."""
    import json

    out = tmp_path / "out"
    shutil.copytree(reference, out)
    commits = sorted((out / "work" / "sources").glob("*.json"))
    commits[0].write_text(json.dumps({"records": "x", "rejects": [], "timings": {}}))
    assert _run(out, videos).resumed == 1
    assert "is damaged (cut short or not a commit)" in capsys.readouterr().err
    data = json.loads(commits[1].read_text())
    data["records"][0]["clip_id"] = 7  # not a clip id: ClipRecord does not validate it
    commits[1].write_text(json.dumps(data))
    summary = _run(out, videos)
    assert f"warning: {commits[1]} does not hold valid records" in capsys.readouterr().err
    assert summary.clips_kept == 2 and not commits[1].exists()
    assert _run(out, videos).clips_kept == 4
    assert _shards(out) == _shards(reference)


def test_a_damaged_commit_of_a_source_not_named_is_left_out_with_a_warning(reference, videos, tmp_path, capsys):
    """A review: on a run naming fewer inputs, a damaged commit of one not named was an
    internal error (``[]``: TypeError) or kept silently for ever."""
    from curate.ids import text_id

    out = tmp_path / "out"
    shutil.copytree(reference, out)
    other = out / "work" / "sources" / f"{text_id(videos['b'])}.json"
    other.write_text("[]")
    pipeline = make_pipeline(TEST_OVERRIDES).model_copy(update={"keep_work": True})
    summary = run_pipeline(pipeline, [videos["a"]], str(out), progress=False)
    assert f"warning: {other} is damaged (cut short or not a commit): its source's clips are left out" \
        in capsys.readouterr().err
    assert summary.clips_kept == 2


def test_a_leftover_part_file_is_no_committed_work(reference, videos, tmp_path):
    """A review: a write's leftover ``.part`` beside no commit and no settings guard counted
    as committed work, and the run was refused."""
    out = tmp_path / "out"
    (out / "work" / "sources").mkdir(parents=True)
    (out / "work" / "sources" / "0123.json.abcdef.part").write_text("{")
    assert _run(out, videos).clips_kept == 4
