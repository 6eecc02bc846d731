"""The stage contract: a small configured class that takes a task and returns it.

After NeMo Curator's ``stages/base.py`` and cosmos-curate's ``stage_interface.py``:

- the stage's pydantic fields are its configuration (what the pipeline file sets;
  an unknown key is an error),
- ``resources`` declares what one worker needs (CPUs, GPUs, actor-pool size),
- ``limits`` runs each call in a sandbox process with a time limit and a memory
  bound (:mod:`curate.guard`); the stages that open untrusted files (probe, split,
  extract) set it by default, ``limits: null`` in a pipeline file turns it off,
- ``setup()`` loads models inside the worker (never at construction, so stages
  pickle cheaply to Ray workers),
- ``process(task)`` does the work; ``__call__`` wraps it: a task already rejected
  passes through untouched, a :class:`RejectError` or any other exception becomes a
  reject row with the stage's name and a reason, and the stage's wall time is added
  to the task's timings.

No Ray import here: ``pipelines.runner`` turns stages into a Ray Data plan.
"""

from __future__ import annotations

import errno
import re
import time
import traceback
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from curate.codec.errors import CodecError
from curate.guard import LimitExceeded, Limits, run_limited
from curate.reasons import check


class Resources(BaseModel):
    """What one worker of a stage asks for.

    ``cpus``/``gpus``: per task or actor (fractions allowed). ``concurrency``: actor-pool
    size for model stages (None: tasks, sized by Ray). ``batch_size``: clips per call
    for batched model stages.
    """

    model_config = ConfigDict(extra="forbid")
    cpus: float = Field(1.0, ge=0)
    gpus: float = Field(0.0, ge=0)
    concurrency: int | None = Field(None, ge=1)
    batch_size: int = Field(1, ge=1)


class RejectError(Exception):
    """Raised by a stage to drop a source or clip with a stable ``reason`` and ``detail``."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason = check(reason)
        self.detail = detail


_NO_SPACE = re.compile(rf"\[Errno ({errno.ENOSPC}|{errno.EDQUOT})\]")  # also in a sandbox child's error text


def reject_for(task: Any, stage: str, exc: BaseException) -> None:
    """Record ``exc`` as ``task``'s reject row: a :class:`RejectError`, a codec verdict or
    an exhausted limit keeps its reason; a full disk or quota (``ENOSPC``, ``EDQUOT``,
    also as the message of an error raised in a sandbox child) is ``no_space``, which the
    next run redoes (a break test: a full scratch disk had been ``stage_error``, exit 5,
    the code for a bug); anything else is ``stage_error`` with its message."""
    if isinstance(exc, (RejectError, CodecError, LimitExceeded)):
        task.reject(stage, exc.reason, exc.detail)
        return
    detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
    full = getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or _NO_SPACE.search(str(exc))
    task.reject(stage, "no_space" if full else "stage_error", detail)


class Stage(BaseModel):
    """Base class of every stage. Subclasses set ``name`` and implement ``process``.

    ``uses_model``: true for stages that load a model in ``setup()``; the runner runs
    them as a Ray actor pool so the model is loaded once per worker.
    """

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = "stage"
    uses_model: ClassVar[bool] = False
    fusable: ClassVar[bool] = False  # may run inside the one-decode pass (pipelines.plan.fusable)
    resources: Resources = Field(default_factory=Resources)
    limits: Limits | None = None

    def setup(self) -> None:
        """Load models or other per-worker state. Called once per worker before use."""

    def preflight(self) -> None:
        """Check, before any work, what ``setup`` will need on this machine (a run without
        ``--address`` works where it checks). Raises an error saying what is missing; the
        default checks nothing."""

    def process(self, task: Any) -> Any:
        """Do the stage's work on one task; return the task. Raise RejectError to drop it."""
        raise NotImplementedError

    def process_batch(self, tasks: list[Any]) -> list[Any]:
        """Run a batch of tasks (model stages override this to batch their model calls)."""
        return [self(t) for t in tasks]

    def settings(self) -> dict[str, Any]:
        """The configuration as a plain dict (resources and limits excluded), for ids and commits."""
        return self.model_dump(mode="json", exclude={"resources", "limits"})

    def __call__(self, task: Any) -> Any:
        if task.rejected:
            return task
        start = time.perf_counter()
        try:
            task = run_limited(self.process, task, self.limits) if self.limits else self.process(task)
        except Exception as exc:  # noqa: BLE001 - recorded as a reject row, never dropped
            reject_for(task, self.name, exc)
        task.timings[self.name] = task.timings.get(self.name, 0.0) + time.perf_counter() - start
        return task


def run_batch(name: str, tasks: list, live: list, work) -> list:
    """Run ``work(live)`` once for a batch of a model stage: an exception makes every
    clip of ``live`` a reject row (:func:`reject_for`); the wall time is shared evenly
    over ``tasks`` in ``timings[name]`` (seconds). Returns ``tasks``."""
    import time

    start = time.perf_counter()
    try:
        if live:
            work(live)
    except Exception as exc:  # noqa: BLE001 - recorded per clip
        for t in live:
            reject_for(t, name, exc)
    share = (time.perf_counter() - start) / max(len(tasks), 1)
    for t in tasks:
        t.timings[name] = t.timings.get(name, 0.0) + share
    return tasks
