"""A local run without Ray (``ray.start: when_needed``): when it applies, and its pool.

A run without ``--address`` whose steps are all plain CPU steps, and whose sources the
driver keeps anyway (local passes, :mod:`pipelines.headstart`), needs nothing of a local
Ray but somewhere to run the calls that follow the sources: dedup's band search and pair
verification, shard packing, the report's thumbnails, restoring removed work files.
Starting Ray for those cost a 2-core machine about 7 of the footage run's 40 CPU-seconds
(docs/benchmarks.md) while the passes wanted both cores. Here the local passes' threads
serve those calls once their sources are done, each in its sandbox child
(:meth:`pipelines.headstart.HeadStart.calls`), and the run imports no Ray at all.
"""

from __future__ import annotations

import os
import sys

from curate.guard import Limits
from pipelines.config import Pipeline
from pipelines.headstart import Deliver, HeadStart
from pipelines.raytasks import Workers
from pipelines.resources import fit_to_cluster, this_machine
from pipelines.rows import PassSteps, largest_first

# The driver's calls on the sandbox children (dedup parts, shards, thumbnails): Ray's
# tasks have no time limit, so nor do these (a day); one retry, as Ray's thumbnail task.
CALL_LIMITS = Limits(timeout_s=86400, memory_mb=4096, retries=1)


def why_local_ray(pipeline: Pipeline) -> str | None:
    """Why a run of ``pipeline`` without ``--address`` starts a local Ray (a short reason
    naming the setting or stage), or None when it runs without Ray: ``ray.start:
    when_needed``, local passes on (``ray.head_start`` and ``ray.local_passes``), extract on
    the one-decode path and no stage with a model or a GPU share (per-source stages run in
    the passes' sandboxes; post stages with a model run on Ray Data's actor pools)."""
    from curate.passfit import not_plain  # noqa: PLC0415 - light: numpy and PyAV only

    opts = pipeline.ray
    if opts.start == "always":
        return "ray.start: always"
    if not opts.head_start or not opts.local_passes:
        return "ray.head_start: false" if not opts.head_start else "ray.local_passes: false"
    return not_plain(pipeline.stages)  # every stage: a post stage with a model runs on Ray Data


def runs_without_ray(pipeline: Pipeline, address: str | None, ray_running: bool) -> bool:
    """Whether a run starts no Ray: no ``address``, no Ray this process is connected to
    (``ray_running``) and nothing in the pipeline that needs one (:func:`why_local_ray`)."""
    return address is None and not ray_running and why_local_ray(pipeline) is None


def local_cpus(pipeline: Pipeline) -> int:
    """CPUs of a run without Ray: ``ray.num_cpus``, else those this process may use."""
    return pipeline.ray.num_cpus or len(os.sched_getaffinity(0))


def start_local_pool(pipeline: Pipeline, steps: PassSteps, work_dir: str, todo: list[str],
                     deliver: Deliver) -> tuple[HeadStart, Workers]:
    """Check the stages against this machine, then start the local passes over ``todo``
    (largest first) on one thread per CPU (:func:`local_cpus`), each serving calls once its
    sources are done. Returns the started pool and the :class:`pipelines.raytasks.Workers`
    that send calls to it; the caller closes the pool (:meth:`HeadStart.close`).

    Raises :class:`pipelines.exits.InsufficientResources` (exit 7) when a stage asks for
    more CPUs than the machine has, before any source starts."""
    from curate.passfit import limits_for  # noqa: PLC0415 - light: numpy and PyAV only

    cpus = local_cpus(pipeline)
    where = "this run (ray.num_cpus)" if pipeline.ray.num_cpus else "this machine"
    for line in fit_to_cluster(pipeline.stages, this_machine(cpus), where=where):
        print(f"warning: {line}", file=sys.stderr)  # before any work (none: no stage has an actor pool)
    bound = limits_for(pipeline.stages[1], pipeline.stages[2], 0.0)  # the pass's child serves the calls
    serve = CALL_LIMITS.model_copy(update={"memory_mb": bound.memory_mb}) if bound else CALL_LIMITS
    head = HeadStart(steps, work_dir, largest_first(todo), deliver, keep_all=True, serve=serve).start().grow(cpus)
    return head, Workers(calls=head.calls, cpus=cpus, ray=False)
