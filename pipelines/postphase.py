"""The run's steps between dedup and the shards: bring back removed work files, then the
post-dedup clip stages (captions, clip scores) on the kept clips only.

:func:`restore_work` brings back the ``work/clips`` files of kept clips that an earlier
run's cleaning removed (``keep_work: false``), before anything reads them;
:func:`post_phase` runs the pipeline's post stages (:meth:`pipelines.config.Pipeline.post_stages`):
model stages through a Ray Data plan of actor pools (:func:`pipelines.plan.clip_plan`),
cheap signal-only stages here, in order. Both are called by :class:`pipelines.runner.Runner`
once Ray is up; Ray Data is imported only when a model stage runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from curate.stage import Stage
from curate.tasks import ClipTask
from pipelines.config import Pipeline
from pipelines.progress import Progress
from pipelines.rows import loads
from pipelines.workclips import frames_needed
from pipelines.workstore import WorkStore
from schemas import ClipRecord, RejectRecord


def restore_work(pipeline: Pipeline, work: WorkStore, progress: Progress, kept: list[ClipRecord],
                 rejects: list[RejectRecord], walls: dict[str, float],
                 run: Callable[[Callable, list[tuple]], list]) -> list[ClipRecord]:
    """The kept clips whose ``work/clips`` files are there or could be brought back
    (:meth:`pipelines.workclips.WorkClips.restore`, re-encoded with the run's extract
    stage by ``run(fn, calls)``: the run's workers, :class:`pipelines.raytasks.Workers`); a clip that cannot be brought back becomes its reject row,
    appended to ``rejects``. ``walls["restore"]``: seconds spent, set only when something
    was missing."""
    need = frames_needed(pipeline.post_stages(), work.root, kept)
    no_mp4, no_frames = work.missing(kept, need)
    if not no_mp4 and not no_frames:
        return kept
    t = time.perf_counter()
    with progress.step(f"bringing back {len(no_mp4 | no_frames)} earlier clips into work/clips (removed once "
                       "their shards were written, or cut short; from the shards where they are)"):
        lost = work.restore(kept, need, pipeline.stages[2], run=run)
    walls["restore"] = time.perf_counter() - t
    rejects += lost
    gone = {row.clip_id for row in lost}
    return [r for r in kept if r.clip_id not in gone]


def post_phase(pipeline: Pipeline, work_dir: str, progress: Progress,
               kept: list[ClipRecord]) -> tuple[list[ClipRecord], list[RejectRecord]]:
    """Run the pipeline's post stages on ``kept`` (records of clips under ``work_dir``).
    Returns ``(kept, rejects)``: the records that passed, with what the stages added
    (captions), and the reject rows of those that did not, in the order the stages
    finished them. No post stage or no kept clip: ``(kept, [])``."""
    stages = pipeline.post_stages()
    if not stages or not kept:
        return kept, []
    tasks = [ClipTask(source=r.source, span=r.span, clip_id=r.clip_id, work_dir=work_dir,
                      record=r, source_path=r.source.path) for r in kept]
    out_kept, rejects = [], []
    progress.start("captions", len(tasks))
    try:
        for task in run_post(tasks, stages):
            (rejects.append(task.reject_row) if task.reject_row else out_kept.append(task.record))
            progress.advance("captions")
    finally:
        progress.stop("captions")
    return out_kept, rejects


def run_post(tasks: list[ClipTask], stages: list[Stage]) -> Iterator[ClipTask]:
    """``tasks`` through ``stages``: model stages go to Ray (actor pools; the tasks come
    back in the order they finish); cheap signal-only stages run here, in order."""
    if any(s.uses_model for s in stages):
        from pipelines.plan import clip_plan  # noqa: PLC0415 - Ray Data, imported by the runner

        for row in clip_plan(tasks, stages).iter_rows():
            yield loads(row["task"])
        return
    for stage in stages:
        stage.setup()
    for task in tasks:
        for stage in stages:
            task = stage(task)
        yield task
