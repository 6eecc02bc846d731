"""The driver's Ray tasks after the per-source phase: report thumbnails, shard packing,
restoring work files.

Each is a Ray task of 1 CPU (with a retry) so the driver never reads clip bytes itself;
on a cluster they run on the nodes that hold the CPUs. Ray is imported in the calls, not
with this module: a run imports Ray once its head start has begun (:mod:`pipelines.runner`).
"""

from __future__ import annotations

import functools

from curate.shards import ShardInfo, ShardJob, write_shard
from pipelines.report_html.page import frames_from_store


@functools.cache
def _thumbnail_task():
    """The thumbnail Ray task. A remote function runs in a worker once its module is
    imported there: this one's module is the light page module (its charts import
    matplotlib lazily), not this one, whose imports had cost each worker 0.5 s before its
    first thumbnail."""
    import ray  # noqa: PLC0415 - see above

    return ray.remote(num_cpus=1, max_retries=1)(frames_from_store)


def thumbnail_frames_on_workers(root: str, tile) -> tuple[list, str]:
    """report.html's frame source at the end of a run: a Ray task decodes the tile's clip
    (or source span) and returns its few small thumbnail frames, so the driver never
    reads clip bytes (:func:`pipelines.report_html.page.frames_from_store` does the work)."""
    import ray  # noqa: PLC0415 - see the module's imports

    return ray.get(_thumbnail_task().remote(root, tile))


def pack_shards(jobs: list[ShardJob]) -> list[ShardInfo]:
    """Pack shards in parallel: one Ray task per shard, reading clips from the store and
    putting its tar there (:func:`curate.shards.write_shard`); infos in shard order."""
    import ray  # noqa: PLC0415 - see the module's imports

    task = ray.remote(num_cpus=1, max_retries=3)(write_shard)
    return ray.get([task.remote(job) for job in jobs])


def on_workers(fn, calls: list[tuple]) -> list:
    """``[fn(*args) for args in calls]`` as one Ray task each (1 CPU), results in order."""
    if not calls:
        return []
    import ray  # noqa: PLC0415 - see the module's imports

    task = ray.remote(num_cpus=1, max_retries=1)(fn)
    return ray.get([task.remote(*args) for args in calls])
