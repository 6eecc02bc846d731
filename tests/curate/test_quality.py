"""Quality stage: resolution and aspect limits, on-screen text (PP-OCR) and NSFW (NudeNet) with the shipped models."""

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from curate.quality.stage import QualityStage
from curate.tasks import ClipTask
from support.dedup import clip_record
from support.ocr import needs_ocr
from support.ocr import smooth as _smooth


def _subtitled(seed, h=224, w=398):
    f = _smooth(seed, h, w)
    cv2.putText(f, "Subtitle text here", (20, h - 24), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
    return f


def _task(cid, frames, width=1280, height=720):
    rec = clip_record(cid, "", width, height)
    return ClipTask(source=rec.source, span=rec.span, clip_id=cid, work_dir="", record=rec,
                    frames=np.stack(frames))


@needs_ocr
def test_text_area_is_positive_on_rendered_text_and_zero_without():
    stage = QualityStage(text=True)
    text, plain = _task("t", [_subtitled(s) for s in range(4)]), _task("p", [_smooth(s) for s in range(4)])
    stage.process_batch([text, plain])
    assert 0.02 < text.record.scores.text_area < 0.2  # one subtitle line: a few % of the picture
    assert plain.record.scores.text_area < 0.002


@needs_ocr
def test_text_overlay_rejects_and_keeps_the_score_in_the_reject_row():
    stage = QualityStage(text=True, max_text_area=0.01)
    text, plain = _task("t", [_subtitled(s) for s in range(4)]), _task("p", [_smooth(s) for s in range(4)])
    stage.process_batch([text, plain])
    assert text.reject_row.reason == "text_overlay" and text.reject_row.scores.text_area > 0.01
    assert plain.reject_row is None


def test_nsfw_score_is_a_probability_for_every_clip_of_a_batch():
    stage = QualityStage(nsfw=True, max_nsfw=0.99)
    tasks = [_task("a", [_smooth(s) for s in range(3)]), _task("b", [_smooth(9, 180, 320)] * 2)]
    stage.process_batch(tasks)  # two frame sizes: two model calls
    for t in tasks:
        assert 0.0 <= t.record.scores.nsfw <= 1.0 and t.reject_row is None
    assert tasks[0].record.scores.text_area is None  # text off: not measured


def test_resolution_and_aspect_limits_reject_before_models_run():
    stage = QualityStage(min_short_side=360, min_aspect=1.0, max_aspect=2.0, nsfw=True)
    small = _task("s", [_smooth(1)], 320, 240)
    tall = _task("v", [_smooth(2)], 720, 1280)
    wide = _task("w", [_smooth(3)], 2560, 720)
    ok = _task("k", [_smooth(4)], 1280, 720)
    stage.process_batch([small, tall, wide, ok])
    assert small.reject_row.reason == "low_resolution" and "240 < min_short_side=360" in small.reject_row.detail
    assert tall.reject_row.reason == "bad_aspect_ratio" and wide.reject_row.reason == "bad_aspect_ratio"
    assert small.record.scores.nsfw is None  # no model ran on a rejected clip
    assert ok.reject_row is None and ok.record.scores.nsfw is not None


def test_picture_limits_alone_need_no_frames_and_time_the_clip_once(monkeypatch):
    """Without a model the stage judges the source's displayed size only: a clip without a
    frame sample is judged too (a break test's direct call had made it a stage_error), and
    Stage.__call__ (the one-decode pass, Ray tasks) adds the stage's time once: clocks
    that tick 0.25 s (the call) and 100 s (the batch timing) show which counted."""
    import itertools
    from types import SimpleNamespace

    import curate.quality.stage as quality_mod
    import curate.stage as stage_mod

    ticks, batch = itertools.count(0, 0.25), itertools.count(0, 100)
    monkeypatch.setattr(stage_mod, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    monkeypatch.setattr(quality_mod, "time", SimpleNamespace(perf_counter=lambda: next(batch)))
    stage = QualityStage(min_short_side=360, max_aspect=2.0)
    assert not stage.uses_model and stage.fusable and QualityStage(text=False, nsfw=True).uses_model
    small, wide, ok = (_task(c, [_smooth(1)], w, h) for c, w, h in (("s", 320, 240), ("w", 2560, 720), ("k", 1280, 720)))
    for t in (small, wide, ok):
        t.frames = None
        t.timings["quality"] = 1.0  # an earlier second: __call__ adds this call's time to it
    assert [stage(t) for t in (small, wide, ok)] == [small, wide, ok]
    assert small.reject_row.reason == "low_resolution" and wide.reject_row.reason == "bad_aspect_ratio"
    assert ok.reject_row is None and [t.timings["quality"] for t in (small, wide, ok)] == [1.25] * 3


def test_missing_weights_fail_when_the_stage_is_configured(tmp_path):
    with pytest.raises(ValidationError, match="not found"):
        QualityStage(nsfw=True, nsfw_model=str(tmp_path / "absent.onnx"))
    with pytest.raises(ValidationError, match="max_text_area needs text: true"):
        QualityStage(max_text_area=0.1)
    with pytest.raises(ValidationError, match="nothing to do"):  # a stage that could never drop a clip
        QualityStage(frames=8)


def test_a_pipeline_file_with_missing_weights_is_refused_before_any_work(tmp_path):
    import yaml

    from pipelines.config import PipelineError, load_pipeline, parse_pipeline

    data = yaml.safe_load(open("pipelines/local.yaml"))
    data["stages"].insert(5, {"stage": "quality", "nsfw": True, "nsfw_model": str(tmp_path / "absent.onnx")})
    with pytest.raises(PipelineError, match=r"stages\[5\] \(quality\).*absent.onnx not found"):
        parse_pipeline(data, "local.yaml")
    data["stages"][5].pop("nsfw_model")  # the wheel's model
    assert parse_pipeline(data, "local.yaml").stage("quality").nsfw
    assert load_pipeline("pipelines/gpu.yaml").stage("quality").max_nsfw == 0.6
