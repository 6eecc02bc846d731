"""Row functions of the per-source plan, free of Ray: they run the same in a Ray Data map,
in a Ray worker, or on the driver (the head start, :mod:`pipelines.headstart`).

Rows carry one task each, serialised by this module (``{"task": bytes}``): tasks are the
project's own dataclasses produced inside the same run, never data read from a shard.
:class:`SplitExtract` splits and extracts a probed source from one decode
(:mod:`curate.onepass`) and fans it out into clip tasks; :class:`_Apply` runs one
task-based stage on a row; :class:`PassSteps` holds the per-source steps, which
:func:`pipelines.plan.source_plan` chains in Ray Data and :meth:`PassSteps.run_local`
runs in this process. This module imports neither Ray nor Ray Data, so a local run's
head start begins before the driver has imported them (about a second of a 2-core
machine's start-up, on the core the sandbox child would otherwise leave idle).
"""

from __future__ import annotations

import os
import pickle
import shutil
import time
from collections.abc import Iterator
from typing import Any

from curate.ids import clip_id
from curate.scratch import owned_dir
from curate.stage import RejectError, Stage, reject_for
from curate.tasks import ClipTask, SourceTask, changed_detail, file_stamp, stamp_changed

def dumps(task: Any) -> bytes:
    """Serialise a task for a Ray Data row."""
    return pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)


def loads(blob: bytes) -> Any:
    """Deserialise a task produced by :func:`dumps` in this run."""
    return pickle.loads(blob)  # noqa: S301 - our own rows, never shard data


class _Apply:
    """Row function for a task-based stage: set up lazily once per worker process."""

    def __init__(self, stage: Stage):
        self.stage = stage
        self.ready = False

    def __call__(self, row: dict) -> dict:
        task = loads(row["task"])
        if self.stage.name in task.timings:  # already run inside the one-decode pass (fusable)
            return row
        if not self.ready:
            self.stage.setup()
            self.ready = True
        return {"task": dumps(self._run(task))}

    def _run(self, task: Any) -> Any:
        return self.stage(task)


class _Probe(_Apply):
    """The probe's row function, then the source gates of later stages: a stage with a
    ``source_gate(source)`` method (``quality``'s picture limits) judges the probed source
    once, and a :class:`curate.stage.RejectError` rejects the whole source under that
    stage's name before it is split, decoded or encoded."""

    def __init__(self, probe: Stage, gates: list[Stage]):
        super().__init__(probe)
        self.gates = gates

    def _run(self, task: SourceTask) -> SourceTask:
        task.stamp = file_stamp(task.path)  # before anything reads it, here (a sandboxed probe's verdict keeps it)
        task = self.stage(task)
        if task.rejected or task.source is None:
            return task
        for stage in self.gates:
            try:
                stage.source_gate(task.source)
            except RejectError as exc:
                reject_for(task, stage.name, exc)
                break
        return task


def fusable(stages: list[Stage]) -> list[Stage]:
    """The leading clip stages after extract that the one-decode pass runs on each clip as
    it is encoded (:class:`SplitExtract`): plain CPU stages (no model, no GPU share, no
    sandbox limits of their own), e.g. ``score``. Their result is the same wherever they run."""
    out = []
    for stage in stages:
        if stage.uses_model or stage.resources.gpus or stage.limits is not None or not stage.fusable:
            break
        out.append(stage)
    return out


class FanOut:
    """Turn a split source into one :class:`ClipTask` per span (or one marker task).

    The first task carries the source's reject rows and its probe/split timings;
    every task knows how many tasks its source produced, so the driver can commit a
    source once all of them are back.
    """

    def __init__(self, clip_settings: dict):
        self.clip_settings = clip_settings

    def clip_id_fn(self, source_id: str, span) -> str:
        """The content-addressed id of a span's clip (:func:`curate.ids.clip_id`)."""
        return clip_id(source_id, span.start_frame, span.end_frame, self.clip_settings)

    def tasks(self, src: SourceTask) -> list[ClipTask]:
        """The clip tasks of a split source (one marker task when it has none)."""
        spans = [] if src.rejected else src.spans
        tasks = [ClipTask(source=src.source, span=s, work_dir=src.work_dir, source_path=src.path,
                          clip_id=self.clip_id_fn(src.source.source_id, s), n_in_source=len(spans))
                 for s in spans]
        return finish_fan_out(src, tasks)

    def __call__(self, row: dict) -> list[dict]:
        return [{"task": dumps(t)} for t in self.tasks(loads(row["task"]))]


def finish_fan_out(src: SourceTask, tasks: list[ClipTask]) -> list[ClipTask]:
    """Give a source's clip tasks (or one marker task when there are none) the source's
    reject rows and probe/split timings on the first task."""
    if not tasks:
        tasks = [ClipTask(source=src.source, span=None, clip_id="", work_dir=src.work_dir,
                          source_path=src.path, n_in_source=1)]
    tasks[0].source_rejects = list(src.rejects)
    tasks[0].timings = {**tasks[0].timings, **src.timings}
    tasks[0].stamp = src.stamp
    return tasks


class SplitExtract(FanOut):
    """Split and extract a probed source from one decode (:mod:`curate.onepass`), in the
    split and extract limits' sandbox, and fan it out into its clip tasks.

    A source that does not fit the one-decode path (``extract.one_pass`` off, or a spill
    over ``extract.spill_max_mb``) is only split, on the frames the one-decode path's
    detection sees (:func:`curate.onepass.split_only`), and fanned out unextracted; the
    extract stage later in the plan decodes its spans one by one. A failure of the whole
    pass (time limit, crash, a source verdict) is the source's reject row, from ``split``.
    ``then`` and ``drop_samples``: :class:`curate.onepass.OnePassJob`'s.
    """

    def __init__(self, split: Stage, extract: Stage, clip_settings: dict, then: list[Stage] = (),
                 drop_samples: bool = False):
        super().__init__(clip_settings)
        self.split, self.extract, self.then = split, extract, list(then)
        self.drop_samples = drop_samples

    def _sandboxed(self, fn, job, limits):
        """``fn(job)`` (a step of :mod:`curate.onepass`) in the sandbox of ``limits`` (None:
        in this process); on failure (time limit, crash, a source verdict) the source task
        ``fn`` was given gets its reject row from ``split`` and its time, and None is returned."""
        from curate.guard import run_limited
        from curate.stage import reject_for

        task, start = job.task, time.perf_counter()
        try:
            return run_limited(fn, job, limits) if limits else fn(job)
        except Exception as exc:  # noqa: BLE001 - the source's reject row, never dropped
            reject_for(task, self.split.name, exc)
            task.timings[self.split.name] = time.perf_counter() - start
            return None

    def _split_only(self, src: SourceTask) -> SourceTask:
        """``src`` split for the per-span path (:func:`curate.onepass.split_only`: the
        one-decode path's detection frames, so the same spans) in the split stage's sandbox."""
        from curate import onepass

        job = onepass.OnePassJob(src, self.split, self.extract, self.clip_settings)
        done = self._sandboxed(onepass.split_only, job, self.split.limits)
        return src if done is None else done.task

    def __call__(self, row: dict) -> Iterator[dict]:
        """Rows of the source's clip tasks, read one at a time from the pass's node-local
        folder (a generator: Ray Data cuts its output into blocks as it goes)."""
        from curate import onepass, passfit

        src: SourceTask = loads(row["task"])
        problem = None if src.rejected else self.extract.size_problem(src.source)
        if problem is not None:  # no encoder takes it: one reject row, nothing decoded
            src.reject(self.split.name, "bad_aspect_ratio", problem)
        if src.rejected or not passfit.fits_one_pass(self.extract, src):
            yield from ({"task": dumps(t)} for t in self.tasks(src if src.rejected else self._split_only(src)))
            return
        out_dir = owned_dir("clips")  # swept by a later process if this one dies (curate.scratch)
        try:
            job = onepass.OnePassJob(src, self.split, self.extract, self.clip_settings, out_dir=out_dir,
                                     then=self.then, drop_samples=self.drop_samples)
            job = self._sandboxed(onepass.run_one_pass, job,
                                  passfit.limits_for(self.split, self.extract, src.source.duration_s))
            if job is None:
                yield from ({"task": dumps(t)} for t in self.tasks(src))
                return
            now = file_stamp(src.path)
            if stamp_changed(src.stamp, now):  # still being copied, or rewritten: clips of a part
                src.spans, src.rejects = [], []  # (the pass's own rows, when it ran in this process)
                src.reject(self.split.name, "source_changed", changed_detail(src.stamp, now))
                yield from ({"task": dumps(t)} for t in self.tasks(src))
                return
            for i, path in enumerate(job.clip_files):
                with open(path, "rb") as f:
                    blob = f.read()
                os.remove(path)
                yield {"task": dumps(finish_fan_out(job.task, [loads(blob)])[0]) if i == 0 else blob}
            if not job.clip_files:
                yield {"task": dumps(finish_fan_out(job.task, [])[0])}
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)


def _strip(row: dict) -> dict:
    task: ClipTask = loads(row["task"])
    task.drop_arrays()
    return {"task": dumps(task)}


def _size(path: str) -> int:
    """Bytes of a local file; -1 for an object-store URL (a request each) or a missing file."""
    if "://" in path:
        return -1
    try:
        return os.path.getsize(path)
    except OSError:
        return -1


def largest_first(sources: list[str]) -> list[str]:
    """Local files in decreasing size (a long source started last would run alone at the
    end: longest-processing-time-first scheduling), then object-store URLs in their order
    (their sizes would cost a request each)."""
    local = [p for p in sources if "://" not in p]
    return sorted(local, key=lambda p: (-_size(p), p)) + [p for p in sources if "://" in p]


def source_weights(sources: list[str]) -> dict[str, float]:
    """Each source's share of the per-source work for the progress display's time left:
    its file size in bytes, or for an object-store URL or a file it cannot size the mean
    of the others (1 each when none can be sized)."""
    sizes = {p: _size(p) for p in sources}
    known = [v for v in sizes.values() if v > 0]
    mean = sum(known) / len(known) if known else 1.0
    return {p: float(v) if v > 0 else mean for p, v in sizes.items()}


def rows_per_block(extract: Stage) -> int:
    """Clip tasks per block after the split fan-out: 1 when spans are extracted by the
    later map (``one_pass`` off: every span its own task, spread over the workers); 16 on
    the one-decode path, where the clips arrive encoded and scored and what is left per
    clip is light: a Ray task per clip cost 4-6 s on a 114-clip 1080p source on 2 cores,
    16 a block under 1 s. A source too large for the one-decode path still spreads its
    spans over the workers 16 at a time."""
    return 16 if getattr(extract, "one_pass", False) else 1


class PassSteps:
    """The per-source plan's stages (``probe``, ``split``, ``clip_stages``) and its pass
    (``one_pass``: :class:`SplitExtract`, the fused clip stages inside), built once.
    :func:`source_plan` chains them in Ray Data; :meth:`run_local` runs the same row
    functions on one source in this process (:mod:`pipelines.headstart`), so both give
    the same rows (the clip stages' maps pass on clips the pass already finished)."""

    def __init__(self, probe: Stage, split: Stage, clip_stages: list[Stage], clip_settings: dict):
        fused = fusable(clip_stages[1:])
        self.probe, self.split, self.clip_stages = probe, split, list(clip_stages)
        self.probe_row = _Probe(probe, [s for s in clip_stages if callable(getattr(s, "source_gate", None))])
        self.one_pass = SplitExtract(split, clip_stages[0], clip_settings, then=fused,
                                     drop_samples=len(fused) == len(clip_stages) - 1)  # no stage left needs them
        self._local = None  # run_local's row functions, made on first use (each sets its stage up once)

    def local_ok(self) -> bool:
        """Whether :meth:`run_local` can stand in for the plan: every step a plain CPU
        task (no model, no GPU) and sources on the one-decode path."""
        from curate.passfit import plain_cpu_steps

        return plain_cpu_steps([self.probe, self.split] + self.clip_stages)

    def run_local(self, path: str, work_dir: str) -> Iterator[dict]:
        """The plan's output rows for source ``path``, computed here (probe and the pass in
        this process's sandbox children, :mod:`curate.guard`)."""
        if self._local is None:
            self._local = (self.probe_row, [_Apply(s) for s in self.clip_stages])
        probe, stages = self._local
        row = probe({"task": dumps(SourceTask(path=path, work_dir=work_dir))})
        for out in self.one_pass(row):
            for step in stages:
                out = step(out)
            yield _strip(out)
