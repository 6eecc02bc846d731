"""Pipelines for tests: ``pipelines/local.yaml`` with per-stage overrides."""

from __future__ import annotations

import copy
import os

import yaml

from pipelines.config import Pipeline, parse_pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCAL_YAML = os.path.join(ROOT, "pipelines", "local.yaml")

# Settings used by the end-to-end tests: small clips, no trimming (boundaries are exact).
TEST_OVERRIDES = {
    "split": {"min_clip_s": 1.0, "max_clip_s": 4.0, "trim_s": 0.0},
    "extract": {"short_side": 128},
}


def local_dict() -> dict:
    """``pipelines/local.yaml`` as a mapping."""
    with open(LOCAL_YAML, encoding="utf-8") as f:
        return yaml.safe_load(f)


def make_pipeline(overrides: dict | None = None, drop: tuple[str, ...] = ()) -> Pipeline:
    """local.yaml with ``overrides`` ({stage name: {key: value}}) applied and ``drop`` stages removed."""
    data = copy.deepcopy(local_dict())
    data["stages"] = [s for s in data["stages"] if s["stage"] not in drop]
    for stage in data["stages"]:
        stage.update((overrides or {}).get(stage["stage"], {}))
    return parse_pipeline(data, "test")


def run_source(pipeline: Pipeline, path: str, work: str):
    """Probe, split and every per-clip stage of ``pipeline`` on one source, in this process:
    ``(source task, clip tasks)`` (no clip tasks for a rejected source)."""
    from curate.ids import clip_id
    from curate.tasks import ClipTask, SourceTask

    task = SourceTask(path=path, work_dir=work)
    for stage in pipeline.stages[:2]:
        task = stage(task)
    clips = []
    for span in [] if task.rejected else task.spans:
        ct = ClipTask(source=task.source, span=span, work_dir=work, source_path=path,
                      clip_id=clip_id(task.source.source_id, span.start_frame, span.end_frame,
                                      pipeline.stages[2].clip_settings()))
        for stage in pipeline.clip_stages():
            ct = stage(ct)
        clips.append(ct)
    return task, clips
