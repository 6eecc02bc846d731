"""A local ``--output`` folder on a cluster: refuse it before any work unless every node sees it.

Workers write clips, frame samples and shards into the output themselves (the driver
handles records only), so a local folder works on a cluster only when every node mounts
it at the same path (NFS, Lustre, a shared volume). Without that, the run used to go
through the whole per-source phase and then fail in ``write_shard`` on another node with
an internal error and a remote traceback. :func:`check_output_seen` runs right after Ray
is joined: one zero-CPU task pinned to each node that hosts work (CPUs or GPUs) asks
whether a file the driver has just written there (the run's lease) exists, and the run
stops with :class:`~pipelines.exits.UsageError` (exit code 2) naming the nodes that
cannot see it. An object-store URL (``s3://``, ``gs://``) is never checked.
"""

from __future__ import annotations

import logging
import os

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from curate import store
from pipelines.exits import UsageError

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 120.0
"""How long the nodes' answers are awaited (a node starting a worker); after that the
run goes on with a warning."""


def _sees(path: str) -> bool:
    return os.path.exists(path)


_sees_task = ray.remote(num_cpus=0, max_retries=0)(_sees)


def working_nodes(nodes: list[dict]) -> list[dict]:
    """The alive ``ray.nodes()`` entries with CPUs or GPUs (where stage workers can run)."""
    return [n for n in nodes if n.get("Alive") and (n.get("Resources", {}).get("CPU", 0) > 0
                                                     or n.get("Resources", {}).get("GPU", 0) > 0)]


def check_output_seen(output: str, marker: str, timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Raise :class:`UsageError` when a working node of the joined cluster cannot see the
    local file ``marker`` (an existing file inside the output ``output``); no-op for an
    object-store ``output``. A node that does not answer within ``timeout_s`` seconds is
    not judged (a warning)."""
    if store.is_url(output):
        return
    nodes = working_nodes(ray.nodes())
    refs = [_sees_task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
            .remote(marker) for n in nodes]
    try:
        seen = ray.get(refs, timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        log.warning("could not check within %g s that every node sees %s", timeout_s, output)
        return
    blind = [n.get("NodeManagerAddress", n["NodeID"]) for n, ok in zip(nodes, seen) if not ok]
    if blind:
        raise UsageError(
            f"--output {output} is a local folder that {len(blind)} of {len(nodes)} cluster nodes "
            f"cannot see ({', '.join(sorted(blind))}): workers write clips and shards there "
            "themselves. Give an object-store URL (s3://bucket/run) or a folder every node mounts "
            "at the same path")
