"""Check a pipeline's resource requests against the Ray cluster before any work starts.

Ray Data waits forever for resources that never appear: a ``vlm_caption`` actor asking
for one GPU on a CPU-only cluster, or eight actors on a two-GPU cluster, used to leave
the run silent after ``sources N/N``. :func:`fit_to_cluster` runs right after Ray is up:

- a worker of any stage must fit on one alive node (its ``cpus`` and ``gpus``), else
  :class:`~pipelines.exits.InsufficientResources` (exit code 7) names the stage, what it
  asks for and what the largest node has;
- an actor pool larger than the cluster can host at once (summed over nodes, each
  node hosting ``min(node GPUs / gpus, node CPUs / cpus)`` actors) is scaled down to
  what fits, with a warning line;
- the actor pools of one streaming plan hold their CPUs for the whole plan, beside its
  tasks (:func:`leave_room_for_tasks`): pools that would leave no CPU for the plan's
  largest task (a model stage of ``concurrency`` 2 on a 2-CPU node, or any pool on a
  ``ray.num_cpus: 1`` Ray, had left the run waiting forever with no source done) are
  scaled down with a warning; exit code 7 when one actor per pool still leaves none.

An autoscaling cluster can grow later; size ``resources.concurrency`` to the nodes it
can reach and start the run when they are up (docs/cluster.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from pipelines.exits import InsufficientResources


def _capacity(nodes: Iterable[Mapping]) -> list[tuple[float, float]]:
    """(CPUs, GPUs) of each alive node, from ``ray.nodes()`` entries."""
    out = []
    for node in nodes:
        if node.get("Alive", node.get("alive", True)):
            res = node.get("Resources", {})
            out.append((float(res.get("CPU", 0.0)), float(res.get("GPU", 0.0))))
    return out


def this_machine(cpus: int) -> list[dict]:
    """``ray.nodes()``-like entries for a run without Ray: one node of ``cpus`` CPUs, no GPU
    (a run whose stages ask for a GPU starts Ray)."""
    return [{"Alive": True, "Resources": {"CPU": float(cpus)}}]


def _per_node(cpus: float, gpus: float, node: tuple[float, float]) -> int:
    """How many workers asking for ``cpus``/``gpus`` one node can host at once."""
    fits = [math.floor(have / want + 1e-9) for have, want in zip(node, (cpus, gpus)) if want > 0]
    return min(fits) if fits else 1 << 30


def _describe(cpus: float, gpus: float) -> str:
    parts = [f"{cpus:g} CPU"] if cpus else []
    parts += [f"{gpus:g} GPU"] if gpus else []
    return " and ".join(parts) or "nothing"


def fit_to_cluster(stages: list, nodes: Iterable[Mapping], where: str = "the Ray cluster") -> list[str]:
    """Check ``stages`` (pipeline stage objects with ``.name`` and ``.resources``) against
    ``nodes`` (``ray.nodes()``, or :func:`this_machine`); scale actor pools down in place
    where needed. ``where`` names the nodes in messages (one node: what it has, not "at
    most ... on one node").

    Returns warning lines (one per scaled pool). Raises
    :class:`~pipelines.exits.InsufficientResources` when some stage's worker fits on no
    node, naming every such stage.
    """
    capacity = _capacity(nodes)
    largest = (max((c for c, _ in capacity), default=0.0), max((g for _, g in capacity), default=0.0))
    warnings, homeless = [], []
    for stage in stages:
        res = stage.resources
        hosts = [_per_node(res.cpus, res.gpus, node) for node in capacity]
        if not any(hosts):
            have = "has no GPU" if res.gpus and largest[1] == 0 else \
                f"has {_describe(*largest)}" if len(capacity) == 1 else \
                f"has at most {_describe(*largest)} on one node"
            homeless.append(f"stage {stage.name} asks for {_describe(res.cpus, res.gpus)} per worker, "
                            f"but {where} {have}")
            continue
        fit = sum(hosts)
        if stage.uses_model and res.concurrency and res.concurrency > fit:
            warnings.append(f"stage {stage.name}: resources.concurrency {res.concurrency} > {fit} "
                            f"actors the cluster can host ({_describe(res.cpus, res.gpus)} each); "
                            f"using {fit}")
            stage.resources = res.model_copy(update={"concurrency": fit})
    if homeless:  # every such stage at once: fixing one at a time costs a run each
        raise InsufficientResources("; ".join(homeless) + "; lower their resources in the pipeline file or "
                                    "run on a cluster with such nodes (docs/cluster.md)")
    return warnings


def leave_room_for_tasks(plans: list[list], nodes: Iterable[Mapping]) -> list[str]:
    """Scale down, in place, the actor pools (stages with ``uses_model``) of each plan in
    ``plans`` (the stages that stream through one Ray Data plan at once: the per-source
    stages, the captioning stages) until the cluster's CPUs hold them and the plan's
    largest task (1 CPU at least: the plan's own row maps) together. Returns warning
    lines; raises :class:`~pipelines.exits.InsufficientResources` when one actor per
    pool does not leave room (module docstring)."""
    total = sum(c for c, _ in _capacity(nodes))
    warnings = []
    for stages in plans:
        pools = [s for s in stages if s.uses_model]
        if not pools:
            continue
        task = max([1.0] + [s.resources.cpus for s in stages if not s.uses_model])
        size = {s.name: s.resources.concurrency or 1 for s in pools}
        held = lambda: sum(size[s.name] * s.resources.cpus for s in pools)  # noqa: E731
        while held() + task > total + 1e-9:
            grown = [s for s in pools if size[s.name] > 1]
            if not grown:
                names = ", ".join(s.name for s in pools)
                raise InsufficientResources(
                    f"the actor pools of {names} ({held():g} CPU at one actor each) and the "
                    f"pipeline's tasks ({task:g} CPU) need {held() + task:g} CPUs at once; the Ray "
                    f"cluster has {total:g}: lower their resources.cpus, or run on more CPUs (ray.num_cpus "
                    "sizes a local Ray)")
            biggest = max(grown, key=lambda s: size[s.name] * s.resources.cpus)
            size[biggest.name] -= 1
        for stage in pools:
            if size[stage.name] != (stage.resources.concurrency or 1):
                warnings.append(f"stage {stage.name}: resources.concurrency {stage.resources.concurrency} "
                                f"leaves no CPU for the pipeline's tasks on this {total:g}-CPU cluster; "
                                f"using {size[stage.name]}")
                stage.resources = stage.resources.model_copy(update={"concurrency": size[stage.name]})
    return warnings
