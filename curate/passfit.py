"""Which path a source's pass takes, and its sandbox limits (:mod:`curate.onepass`).

A source takes the one-decode path when ``extract.one_pass`` is on and its frames'
spill stays under ``extract.spill_max_mb`` (:func:`fits_one_pass`); the per-source steps
can run in any process's sandbox (the driver's local passes, :mod:`pipelines.headstart`)
only when no stage needs a model or a GPU (:func:`not_plain`). Light to import: no
decoder, no Ray.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from curate.guard import Limits

if TYPE_CHECKING:
    from curate.extract import ExtractStage
    from curate.split import SplitStage
    from curate.tasks import SourceTask


def spill_mb(extract: ExtractStage, task: SourceTask) -> float:
    """Megabytes the spill of a probed source will take (probe's frame count x frame size)."""
    w, h = extract.clip_size(task.source)
    return task.source.num_frames * w * h * 1.5 / 2**20


def fits_one_pass(extract: ExtractStage, task: SourceTask) -> bool:
    """True when ``task``'s source takes the one-decode path: ``extract.one_pass`` is on
    and its spill stays under ``extract.spill_max_mb``."""
    return extract.one_pass and spill_mb(extract, task) <= extract.spill_max_mb


def not_plain(stages: list) -> str | None:
    """Why ``stages`` (probe, split, extract, then later stages) cannot all run in any
    process's sandbox, naming the setting or stage (extract off the one-decode path, a
    stage with a GPU share or a model); None when they can."""
    if not getattr(stages[2], "one_pass", False):
        return "extract.one_pass: false"
    for stage in stages:
        if stage.resources.gpus or stage.uses_model:
            return f"stage {stage.name} " + ("has a GPU share" if stage.resources.gpus else "uses a model")
    return None


def plain_cpu_steps(stages: list) -> bool:
    """Whether per-source ``stages`` (probe, split, extract, then the clip stages) can run
    in any process's sandbox: extract on the one-decode path and no stage with a model or
    a GPU (the driver's head start, :mod:`pipelines.headstart`; :func:`not_plain`)."""
    return not_plain(stages) is None


def limits_for(split: SplitStage, extract: ExtractStage, duration_s: float) -> Limits | None:
    """The sandbox limits of one source's pass: split's and extract's time limits added
    and scaled by each started 10 minutes of video, the larger memory bound and retry
    count. None when both stages run without limits."""
    a, b = split.limits, extract.limits
    if a is None and b is None:
        return None
    a, b = a or b, b or a
    scale = max(1, math.ceil(duration_s / 600.0))
    return Limits(timeout_s=min(86400.0, (a.timeout_s + b.timeout_s) * scale),
                  memory_mb=max(a.memory_mb, b.memory_mb), retries=max(a.retries, b.retries))
