"""End to end on local Ray: synthetic footage with known truth in, WebDataset shards out."""

import hashlib
import io
import json
import os
import tarfile

import pyarrow.parquet as pq
import pytest

from curate.codec import iter_frames
from pipelines.runner import run_pipeline
from schemas import SCHEMA_VERSION
from support.pipelines import TEST_OVERRIDES, make_pipeline


def _index(out):
    return pq.read_table(out / "index.parquet").to_pylist()


def _rejects(out):
    return pq.read_table(out / "rejects.parquet").to_pylist()


def _samples(out) -> dict[str, dict[str, bytes]]:
    samples: dict[str, dict[str, bytes]] = {}
    for shard in sorted((out / "shards").glob("shard-*.tar")):
        with tarfile.open(shard) as tar:
            for m in tar.getmembers():
                key, ext = m.name.split(".", 1)
                samples.setdefault(key, {})[ext] = tar.extractfile(m).read()
    return samples


def _spans(out, name):
    return sorted((r["span"]["start_frame"], r["span"]["end_frame"]) for r in _index(out)
                  if r["source"]["path"].endswith(name))


def test_cuts_become_clip_boundaries_within_one_frame(curated_run, footage):
    spans = _spans(curated_run, "cuts.mp4")
    truth = [(50, 110), (110, 175)]  # (0, 50) is the planted duplicate's other copy
    assert len(spans) == 2
    for (a, z), (ta, tz) in zip(spans, truth):
        assert abs(a - ta) <= 1 and abs(z - tz) <= 1


def test_long_shot_is_windowed_within_min_and_max(curated_run):
    spans = _spans(curated_run, "long.mp4")
    assert len(spans) == 3 and spans[0][0] == 0 and spans[-1][1] == 250
    for row in _index(curated_run):
        assert 1.0 - 1e-6 <= row["clip"]["duration_s"] <= 4.0 + 1e-6
        assert 1.0 - 1e-6 <= row["span"]["end_s"] - row["span"]["start_s"] <= 4.0 + 1e-6


def test_planted_duplicate_flagged_and_distinct_shots_not(curated_run):
    dups = [r for r in _rejects(curated_run) if r["reason"] == "duplicate"]
    assert len(dups) == 1
    dropped, kept_id = dups[0], dups[0]["duplicate_of"]
    assert dropped["source_path"].endswith("cuts.mp4") and dropped["span"]["start_frame"] == 0
    kept = {r["clip_id"]: r for r in _index(curated_run)}[kept_id]
    assert kept["source"]["path"].endswith("dup.mp4") and abs(kept["span"]["start_frame"] - 40) <= 1
    assert len(_index(curated_run)) == 2 + 2 + 3  # cuts (3 - 1 dup), dup (2), long (3 windows)


def test_every_sample_has_mp4_json_txt_and_matches_the_index(curated_run):
    samples = _samples(curated_run)
    index = {r["clip_id"]: r for r in _index(curated_run)}
    assert set(samples) == set(index)
    for key, files in samples.items():
        assert set(files) == {"mp4", "json", "txt"}
        assert "." not in key
        record = json.loads(files["json"])
        assert record["clip_id"] == key and record["schema_version"] == SCHEMA_VERSION
        assert record["caption"]["source"] == "signals"
        assert files["txt"].decode() == record["caption"]["text"] != ""
        assert index[key]["shard"] == record["shard"]
        # The dedup signature (kilobytes) is in index.parquet only, not in every sample.
        assert "dedup_signature" not in record and "clip_embedding" not in record
        assert len(index[key]["dedup_signature"]) > 1000


def test_every_clip_decodes_to_its_stated_frame_count(curated_run, tmp_path):
    for key, files in _samples(curated_run).items():
        record = json.loads(files["json"])
        path = tmp_path / f"{key}.mp4"
        path.write_bytes(files["mp4"])
        frames = list(iter_frames(str(path)))
        assert len(frames) == record["clip"]["num_frames"]
        assert frames[0].image.shape[:2] == (record["clip"]["height"], record["clip"]["width"])
        assert record["clip"]["width"] % 2 == 0 and record["clip"]["height"] % 2 == 0


def test_manifest_counts_and_checksums(curated_run):
    m = json.loads((curated_run / "manifest.json").read_text())
    assert m["counts"]["sources"] == 3 and m["counts"]["clips_kept"] == 7
    assert m["counts"]["rejects"] == {"dedup:duplicate": 1}
    assert m["hours_in"] == pytest.approx((175 + 90 + 250) / 25 / 3600, rel=1e-3)
    assert set(m["timings"]["stage_s"]) >= {"probe", "split", "extract", "score", "embed", "filter"}
    assert m["codecs"] == {"encoder": "libx264", "encoder_reason": "encoder: libx264 (configured)", "decoder": "cpu"}
    for shard in m["shards"]:
        data = (curated_run / "shards" / shard["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"]
    assert not list((curated_run / "shards").glob("*.part"))


def test_second_run_gives_identical_keys_and_shards(curated_run, footage, tmp_path, ray_session):
    out = tmp_path / "again"
    folder = os.path.dirname(footage["cuts"][0])
    run_pipeline(make_pipeline(TEST_OVERRIDES), [folder], str(out), progress=False)
    assert [r["clip_id"] for r in _index(out)] == [r["clip_id"] for r in _index(curated_run)]
    first = json.loads((curated_run / "manifest.json").read_text())["shards"]
    second = json.loads((out / "manifest.json").read_text())["shards"]
    assert [s["sha256"] for s in first] == [s["sha256"] for s in second]


def test_rerun_in_place_does_no_source_work(footage, tmp_path, ray_session):
    out = tmp_path / "resume"
    path = footage["cuts"][0]
    pipeline = make_pipeline(TEST_OVERRIDES)
    run_pipeline(pipeline, [path], str(out), progress=False)
    before = (out / "index.parquet").read_bytes()
    run_pipeline(pipeline, [path], str(out), progress=False)
    m = json.loads((out / "manifest.json").read_text())
    assert "per_source" not in m["timings"]["phase_wall_s"]
    assert pq.read_table(io.BytesIO(before)).equals(pq.read_table(out / "index.parquet"))
