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

Local source files are read by the workers too (probe and the pass run where Ray puts
them), so :func:`check_inputs_seen` asks the same of them: a node that could not see a
source had turned it into a committed ``not_found`` reject row, which a rerun took as
done, and the run exited 0 (found by a break test).
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


def _missing(paths: list[str]) -> list[str]:
    return [p for p in paths if not os.path.exists(p)]


_missing_task = ray.remote(num_cpus=0, max_retries=0)(_missing)

MAX_INPUT_CHECKS = 2000
"""Local source files asked about per node: one per folder holding sources, at most this many."""


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
    try:
        missing = ray.get(_pinned(_missing_task, nodes, [marker]), timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        log.warning("could not check within %g s that every node sees %s", timeout_s, output)
        return
    blind = [n.get("NodeManagerAddress", n["NodeID"]) for n, m in zip(nodes, missing) if m]
    if blind:
        raise UsageError(
            f"--output {output} is a local folder that {len(blind)} of {len(nodes)} cluster nodes "
            f"cannot see ({', '.join(sorted(blind))}): workers write clips and shards there "
            "themselves. Give an object-store URL (s3://bucket/run) or a folder every node mounts "
            "at the same path")


def _pinned(task, nodes: list[dict], arg) -> list:
    return [task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(arg)
            for n in nodes]


def check_inputs_seen(sources: list[str], timeout_s: float = CHECK_TIMEOUT_S) -> None:
    """Raise :class:`UsageError` when a working node of the joined cluster cannot see a
    local source file of ``sources`` (one file per folder is asked about, at most
    :data:`MAX_INPUT_CHECKS`; object-store URLs are not checked). A node that does not
    answer within ``timeout_s`` seconds is not judged (a warning)."""
    by_folder: dict[str, str] = {}
    for path in sources:
        if not store.is_url(path) and os.path.exists(path):  # one that is gone is probe's not_found
            by_folder.setdefault(os.path.dirname(path), path)
    probes = sorted(by_folder.values())[:MAX_INPUT_CHECKS]
    if not probes:
        return
    nodes = working_nodes(ray.nodes())
    try:
        missing = ray.get(_pinned(_missing_task, nodes, probes), timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        log.warning("could not check within %g s that every node sees the local inputs", timeout_s)
        return
    blind = [(n.get("NodeManagerAddress", n["NodeID"]), m) for n, m in zip(nodes, missing) if m]
    if blind:
        example = blind[0][1][0]
        raise UsageError(
            f"--input: local source files such as {example} are not visible to {len(blind)} of "
            f"{len(nodes)} cluster nodes ({', '.join(sorted(a for a, _ in blind))}): workers read the "
            "sources themselves. Give object-store URLs (s3://bucket/videos/) or a folder every node "
            "mounts at the same path")
