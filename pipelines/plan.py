"""Turn a stage list into Ray Data plans: tasks for plain stages, actor pools for model stages.

Rows carry one task each (``{"task": bytes}``); the row functions live in
:mod:`pipelines.rows`, which imports no Ray (the head start runs them first). The streaming plan of the per-source phase::

    sources -> map(probe) -> flat_map(split + extract from one decode, fan out clips)
            [-> repartition(rows_per_block)] -> map(extract: only clips not yet extracted)
            -> map(score: only clips not yet scored) -> ...

A source's clips are encoded by the worker that decoded it, from the same decode
(:mod:`curate.onepass`), which also scores, hashes and filters each clip as it is
encoded (the plain CPU stages right after extract, :func:`fusable`; the later maps pass
such clips on); consecutive task-based maps are fused by Ray Data. When a clip stage is
left after the pass (a model stage), clips are re-blocked (:func:`rows_per_block`) so
the later per-clip stages of one long source spread over all workers (as do the spans of
a source too large for the one-decode path); when none is, they are not: the
repartition merged small blocks up to 16 clips, which held finished sources back from
their commit (a helper's Ctrl-C at 11 s of a run on a joined cluster had kept 0 of 24).
Stages with ``uses_model`` run as an actor pool (``resources.concurrency`` actors with
``resources.gpus`` GPUs each) and ``setup()`` loads the model once per actor.
"""

from __future__ import annotations

import ray.data

from curate.stage import Stage
from curate.tasks import ClipTask, SourceTask
from pipelines.rows import (  # noqa: F401 - the row functions, re-exported for the plan's users
    FanOut, PassSteps, SplitExtract, _Apply, _strip, dumps, finish_fan_out, fusable, largest_first, loads,
    rows_per_block)


class _ActorStage:
    """Batch function for a model stage, run as a Ray actor (model loaded in __init__)."""

    def __init__(self, stage: Stage):
        self.stage = stage
        self.stage.setup()

    def __call__(self, batch: dict) -> dict:
        tasks = self.stage.process_batch([loads(b) for b in batch["task"]])
        return {"task": [dumps(t) for t in tasks]}


def _rows(items: list[dict]) -> ray.data.Dataset:
    """A dataset of one row per block: ``from_items`` blocks as they are up to 1024 items
    (a ``repartition`` there cost a Ray task per row before any work, and let Ray Data
    start the first, largest sources out of order); more are re-cut while streaming."""
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 1024)))
    if len(items) <= 1024:
        return ds
    return ds.repartition(target_num_rows_per_block=1)


def add_stage(ds: ray.data.Dataset, stage: Stage) -> ray.data.Dataset:
    """Append one stage to a plan: an actor pool for model stages, tasks otherwise."""
    res = stage.resources
    if stage.uses_model:
        return ds.map_batches(_ActorStage, fn_constructor_kwargs={"stage": stage},  # a fixed-size pool
                              batch_size=res.batch_size,  # (``concurrency=`` is deprecated since Ray 2.51)
                              compute=ray.data.ActorPoolStrategy(size=res.concurrency or 1),
                              num_cpus=res.cpus, num_gpus=res.gpus or None)
    return ds.map(_Apply(stage), num_cpus=res.cpus, num_gpus=res.gpus or None)


def source_plan(sources: list[str], work_dir: str, steps: PassSteps) -> ray.data.Dataset:
    """The streaming per-source plan (module docstring) of ``steps``, sources in
    :func:`largest_first` order; rows come back without samples."""
    items = [{"task": dumps(SourceTask(path=p, work_dir=work_dir))} for p in largest_first(sources)]
    ds = _rows(items)
    extract = steps.clip_stages[0]
    cpus = max(steps.split.resources.cpus, extract.resources.cpus)  # the pass does both stages' work
    gpus = max(steps.split.resources.gpus, extract.resources.gpus)
    probe = steps.probe.resources  # the probe, then the source gates of later stages (quality's picture limits)
    ds = ds.map(steps.probe_row, num_cpus=probe.cpus, num_gpus=probe.gpus or None)
    ds = ds.flat_map(steps.one_pass, num_cpus=cpus, num_gpus=gpus or None)
    if not steps.one_pass.drop_samples:  # a clip stage runs after the pass: spread its clips
        ds = ds.repartition(target_num_rows_per_block=rows_per_block(extract))
    for stage in steps.clip_stages:
        ds = add_stage(ds, stage)
    return ds.map(_strip)


def clip_plan(tasks: list[ClipTask], stages: list[Stage]) -> ray.data.Dataset:
    """A plan over kept clips (captioning after dedup)."""
    ds = _rows([{"task": dumps(t)} for t in tasks])
    for stage in stages:
        ds = add_stage(ds, stage)
    return ds.map(_strip)
