"""A local Ray, and Ray Data on it, without the services nobody reads (issue 10: start-up cost).

A run's own local Ray (``include_dashboard=False``, ``log_to_driver=False``, one fixed
node) has no autoscaler and no reader of workers' output, yet Ray starts two processes
that serve only those: the autoscaler monitor (a fixed node has nothing to scale) and
the log monitor (it forwards workers' output to the driver). :func:`lean_head` starts
such a head without them (Ray's own ``RayParams`` fields ``no_monitor`` and
``include_log_monitor``, which ``ray start`` sets through ``--no-monitor`` and which
``ray.init`` does not expose). Measured on ``../shared/footage`` (2 cores): Ray's own
processes 5.5-5.9 -> 3.8-4.0 CPU-s a run. The dashboard head stays, although without the
dashboard it loads only its usage-stats module (about 1 CPU-s, and ``ray.init`` waits
about 0.3 s for it): it also answers Ray's state API, and without it a state query
(Ray Data's hanging-task detector makes one for a task that runs long) blocked for 40 s
instead of failing at once (measured).

On its first dataset Ray Data (2.60) starts two detached actors, each in a worker process
of its own:

- ``_StatsActor``: dataset ids and metrics for the Ray dashboard's Data page.
  ``Dataset()`` waits for its answer (``ray.get`` on a new dataset id).
- ``AutoscalingCoordinator``: resource requests to a cluster autoscaler. The executor's
  resource budget is what this actor reports as reserved for it, which is nothing until it
  answers, so no task is scheduled before its worker has started.

A local Ray that a run starts itself (``include_dashboard=False``, one fixed node) has no
reader for either: no dashboard, no autoscaler. Both cost a Python worker each (about 0.8
CPU-s of imports on a 2-core machine, while the pass's own workers start) and put their
start-up on the critical path. Measured on ``../shared/footage`` (2 cores, 4 runs each,
interleaved): command 17.8 -> 16.5 s, per-source phase 10.8 -> 9.3 s; each actor alone is
about half of that.

:func:`local_data_services` swaps them, while it is open, for local stand-ins:
:class:`FixedCluster`, a :class:`ray.data._internal.cluster_autoscaler.ClusterAutoscaler`
(a Ray Data DeveloperAPI) whose budget is the node's resources, and a dataset id from
:func:`uuid.uuid4` with metrics dropped (Ray Data's own fallback when its stats actor
fails). Scheduling is otherwise Ray Data's own; outputs do not change. It is used only
around the work of a local Ray this process started (:mod:`pipelines.runner`); a joined
cluster keeps both services (its dashboard and autoscaler read them). Where the installed
Ray Data lacks one of the hooks (another version), nothing is swapped and the run is as
before; ``tests/pipelines/test_lean.py`` says so.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Iterator

import ray
import ray._private.node  # noqa: F401 - lean_head's hooks (Ray internals, checked before use)
import ray._private.parameter  # noqa: F401

try:  # Ray Data internals: present in the Ray versions this was measured on (2.60)
    from ray.data._internal import stats as _stats
    from ray.data._internal.cluster_autoscaler import ClusterAutoscaler
    from ray.data._internal.execution import streaming_executor as _executor
    from ray.data._internal.execution.interfaces import ExecutionResources
except ImportError:  # pragma: no cover - another Ray version: nothing is swapped
    _stats = _executor = None
    ClusterAutoscaler = object  # type: ignore[assignment,misc]

_STATS_CALLS = ("gen_dataset_id_from_stats_actor", "register_dataset_to_stats_actor",
                "update_execution_metrics", "update_iteration_metrics")


class FixedCluster(ClusterAutoscaler):
    """Ray Data's cluster autoscaler for a fixed local node: asks for nothing, and the
    execution's budget is the node's resources (CPU, GPU, memory, object store bytes)
    as Ray reports them when the executor starts."""

    def __init__(self, *args, **kwargs):  # create_cluster_autoscaler's arguments: not needed
        self._total = ExecutionResources.from_resource_dict(ray.cluster_resources())

    def try_trigger_scaling(self) -> None:
        """Nothing to scale: the node is all there is."""

    def on_executor_shutdown(self) -> None:
        """No request to cancel."""

    def get_total_resources(self) -> ExecutionResources:
        """The node's resources (:class:`ExecutionResources`)."""
        return self._total


def _new_dataset_id() -> str:
    return uuid.uuid4().hex


def _dropped(*args, **kwargs) -> None:
    return None


def _swaps() -> list[tuple[object, str, object]]:
    """``(owner, attribute, replacement)`` for each hook, or ``[]`` when one is missing."""
    if _stats is None or not hasattr(_executor, "create_cluster_autoscaler"):
        return []
    manager = getattr(_stats, "_StatsManager", None)
    if manager is None or not all(hasattr(manager, name) for name in _STATS_CALLS):
        return []
    calls = {name: staticmethod(_dropped) for name in _STATS_CALLS}
    calls["gen_dataset_id_from_stats_actor"] = staticmethod(_new_dataset_id)
    return [(_executor, "create_cluster_autoscaler", FixedCluster)] + [
        (manager, name, fn) for name, fn in calls.items()]


@contextlib.contextmanager
def local_data_services(enabled: bool = True) -> Iterator[bool]:
    """Inside the block, Ray Data in this process starts neither its stats actor nor its
    autoscaling coordinator (module docstring). Yields whether the swap is in place
    (False when ``enabled`` is False or the installed Ray Data lacks a hook). The
    originals are back when the block ends, even on an error."""
    swaps = _swaps() if enabled else []
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in swaps]
    try:
        for owner, name, new in swaps:
            setattr(owner, name, new)
        yield bool(swaps)
    finally:
        for owner, name, old in saved:
            setattr(owner, name, old)


@contextlib.contextmanager
def lean_head() -> Iterator[bool]:
    """Inside the block, a head node that ``ray.init`` starts for this process has no
    autoscaler monitor and no log monitor (module docstring). Yields whether the hook is
    in place: False where this Ray's ``Node`` or ``RayParams`` lacks it (another version:
    the node starts as Ray would start it). A node joined, or started by ``ray start``, is
    not touched; the original is back when the block ends, even on an error."""
    node_cls = getattr(getattr(ray._private, "node", None), "Node", None)  # noqa: SLF001
    params_cls = getattr(getattr(ray._private, "parameter", None), "RayParams", None)  # noqa: SLF001
    fields = ("no_monitor", "include_log_monitor")
    if node_cls is None or params_cls is None or not all(
            f in params_cls.__init__.__code__.co_varnames for f in fields):
        yield False
        return
    start = node_cls.__dict__["__init__"]

    @functools.wraps(start)
    def lean_start(self, ray_params, *args, **kwargs):
        if kwargs.get("head") and kwargs.get("ray_init_cluster"):  # ray.init's own new head
            ray_params.no_monitor, ray_params.include_log_monitor = True, False
        return start(self, ray_params, *args, **kwargs)

    node_cls.__init__ = lean_start
    try:
        yield True
    finally:
        node_cls.__init__ = start
