"""A whole pipeline run with the tiny VLM captioner: shards carry the model's captions and id,
and a second run over the same output generates nothing (the cache)."""

import os
import tarfile

import pytest

from pipelines.runner import run_pipeline
from schemas import ClipRecord, read_records


def _samples(out) -> dict[str, dict[str, bytes]]:
    samples: dict[str, dict[str, bytes]] = {}
    for name in sorted(os.listdir(out / "shards")):
        with tarfile.open(out / "shards" / name) as tar:
            for member in tar.getmembers():
                key, ext = member.name.split(".", 1)
                samples.setdefault(key, {})[ext] = tar.extractfile(member).read()
    return samples


def _cache_files(out) -> dict[str, float]:
    root = out / "work" / "captions"
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*.json")}


@pytest.fixture(scope="module")
def vlm_run(ray_session, footage, answer_vlm, pipeline_with_vlm, tmp_path_factory):
    out = tmp_path_factory.mktemp("vlm-run") / "out"
    # structured=False: the wired model can only say its one sentence, not JSON
    pipeline = pipeline_with_vlm(answer_vlm, window_s=2.0, stride_s=1.5, txt="short", device="cpu", structured=False,
                                 resources={"cpus": 1, "concurrency": 1, "batch_size": 4})
    inputs = [footage["cuts"][0]]  # three shots: three clips
    run_pipeline(pipeline, inputs, str(out), progress=False)
    return out, pipeline, inputs


def test_shards_carry_the_model_id_and_captions(vlm_run, answer_vlm):
    out, _, _ = vlm_run
    samples = _samples(out)
    assert len(samples) == 3
    for key, parts in samples.items():
        rec = ClipRecord.model_validate_json(parts["json"])
        cap = rec.caption
        assert cap.model_id == answer_vlm and cap.prompt_version == "v2"
        assert cap.source == "model" and cap.degenerate_reason is None
        assert parts["txt"].decode() == cap.short == "A red square slides right."
        assert cap.events and [e.start_s for e in cap.events] == sorted(e.start_s for e in cap.events)
        assert cap.signals and rec.camera_segments
    index = read_records(ClipRecord, str(out / "index.parquet"))
    assert {r.caption.model_id for r in index} == {answer_vlm}


def test_the_manifest_and_stats_count_the_model_captions(vlm_run, capsys):
    import json

    from pipelines.cli import main

    out, _, _ = vlm_run
    assert json.loads((out / "manifest.json").read_text())["counts"]["captions"] == {"model": 3}
    assert main(["stats", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["captions"] == {"model": 3}
    assert main(["stats", str(out)]) == 0
    assert "captions: 3 of 3 from the model\n" in capsys.readouterr().out
    assert "<th>captions from the model</th><td class=\"n\">3</td>" in (out / "report.html").read_text()


def test_rerun_uses_the_cache(vlm_run):
    out, pipeline, inputs = vlm_run
    before = _cache_files(out)
    assert len(before) == len(_samples(out)) + 1  # one entry per clip + settings.json
    shards_before = {k: v["txt"] for k, v in _samples(out).items()}
    run_pipeline(pipeline, inputs, str(out), progress=False)
    assert _cache_files(out) == before  # nothing generated, nothing rewritten
    assert {k: v["txt"] for k, v in _samples(out).items()} == shards_before
