"""How the driver's steps after the per-source phase run their calls (report thumbnails,
shard packing, restoring work files, dedup's parallel calls): :class:`Workers`.

- :func:`ray_workers`: one Ray task of 1 CPU per call (with retries), on a run that started
  or joined Ray: on a cluster they run on the nodes that hold the CPUs, so the driver
  never reads clip bytes itself.
- A local run without Ray (:mod:`pipelines.headstart`, ``ray.start: when_needed``) gives
  the sandbox children of its local passes instead (:meth:`HeadStart.calls
  <pipelines.headstart.HeadStart.calls>`).

Ray is imported in the calls, not with this module: a run imports Ray once its head start
has begun (:mod:`pipelines.runner`), and a local run without Ray never does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from curate.parallel import Calls
from curate.shards import ShardInfo, ShardJob, write_shard
from pipelines.report_html.page import frames_from_store


@dataclass(frozen=True)
class Workers:
    """Where the driver's calls run: ``calls(fn, calls, shared)`` (:data:`curate.parallel.Calls`)
    and the ``cpus`` that run them at once; ``ray``: whether they are Ray tasks."""

    calls: Calls
    cpus: int
    ray: bool

    def pack_shards(self, jobs: list[ShardJob]) -> list[ShardInfo]:
        """Pack shards in parallel, one call per shard, each reading its clips from the store
        and putting its tar there (:func:`curate.shards.write_shard`); infos in shard order."""
        return self.calls(write_shard, [(job,) for job in jobs], ()) if jobs else []

    def thumbnail_frames(self, root: str, tile) -> tuple[list, str]:
        """report.html's frame source at the end of a run: one call decodes the tile's clip
        (or source span) and returns its few small thumbnail frames, so the driver never
        reads clip bytes (:func:`pipelines.report_html.page.frames_from_store` does the work)."""
        return self.calls(frames_from_store, [(root, tile)], ())[0]

    def on_workers(self, fn: Callable, calls: list[tuple]) -> list:
        """``[fn(*args) for args in calls]``, one call each, results in order."""
        return self.calls(fn, list(calls), ()) if calls else []


@functools.lru_cache(maxsize=32)
def _remote(fn: Callable, retries: int):
    """``fn`` as a Ray remote function of 1 CPU, made once per function: Ray exports a
    remote function to the workers on its first call, and a task runs in a worker once the
    function's module is imported there (the thumbnail function's module is the light page
    module, whose charts import matplotlib lazily)."""
    import ray  # noqa: PLC0415 - see the module's docstring

    return ray.remote(num_cpus=1, max_retries=retries)(fn)


def ray_calls(fn: Callable, calls: list[tuple], shared: tuple = (), retries: int = 3) -> list:
    """``[fn(*shared, *args) for args in calls]`` as one Ray task each (1 CPU, ``retries``
    retries), results in order; ``shared`` arguments go to the object store once."""
    if not calls:
        return []
    import ray  # noqa: PLC0415 - see the module's docstring

    task = _remote(fn, retries)
    refs = [ray.put(x) for x in shared]
    return ray.get([task.remote(*refs, *args) for args in calls])


def ray_workers() -> Workers:
    """:class:`Workers` on the Ray this process is connected to: one task per call, as
    many at once as the Ray has CPUs."""
    import ray  # noqa: PLC0415 - see the module's docstring

    return Workers(calls=ray_calls, cpus=max(1, int(ray.cluster_resources().get("CPU", 1))), ray=True)
