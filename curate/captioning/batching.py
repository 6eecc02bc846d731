"""Batches that fit: prompts packed by a token budget, and CUDA out-of-memory recovery.

A ``generate()`` call holds, per prompt, the vision tower's activations over its patches
(4 per vision token for Qwen-VL's 2x2 merge), the prefill activations and the KV cache of
prompt plus answer; left padding makes every row as long as the longest. So a batch is
sized by ``rows x (longest prompt + max_new_tokens) <= max_batch_tokens`` (a setting of
the pipeline file), with at most ``max_prompts`` rows; prompts are sorted by length first
so rows of similar length share a batch (less padding). A single prompt over the budget
still gets its own batch.

When a call still runs out of GPU memory (``torch.cuda.OutOfMemoryError``), the batch is
halved and each half retried, down to single prompts; the smaller size is remembered
for later batches of this worker. A prompt that fails alone gets a
:class:`~curate.captioning.generation.Generation` with ``error="cuda_oom"``, which the
stage turns into a signal caption with a reason, never a dropped clip.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from curate.captioning.generation import Generation

log = logging.getLogger(__name__)


def pack(costs: Sequence[int], budget: int, max_prompts: int, reserve: int = 0) -> list[list[int]]:
    """Indices of ``costs`` (prompt tokens each) grouped into batches (module docstring).

    ``reserve``: tokens added to each row (the answer's ``max_new_tokens``). Batches come
    shortest prompts first; indices inside a batch are in increasing cost order.
    Raises ValueError when ``budget`` or ``max_prompts`` is below 1.
    """
    if budget < 1 or max_prompts < 1:
        raise ValueError(f"need budget >= 1 and max_prompts >= 1, got {budget}, {max_prompts}")
    order = sorted(range(len(costs)), key=lambda i: (costs[i], i))
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        width = costs[i] + reserve  # sorted: the newest row is the longest
        if cur and ((len(cur) + 1) * width > budget or len(cur) >= max_prompts):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError)


def _free_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class FittingGenerator:
    """Calls ``generate(requests, *args)`` of an engine, halving batches on CUDA OOM.

    ``cap``: the most prompts per call known to fit (None until an OOM happened).
    ``calls``: successful engine calls; ``splits``: batches halved; ``failed``: prompts
    that ran out of memory alone.
    """

    def __init__(self, generate: Callable[..., list[Generation]]):
        self._generate = generate
        self.cap: int | None = None
        self.calls = 0
        self.splits = 0
        self.failed = 0

    def __call__(self, requests: list, *args) -> list[Generation]:
        """One :class:`Generation` per request, in order (module docstring)."""
        if not requests:
            return []
        if self.cap is not None and len(requests) > self.cap:
            return self(requests[:self.cap], *args) + self(requests[self.cap:], *args)
        try:
            out = self._generate(requests, *args)
        except Exception as exc:
            if not _is_oom(exc):
                raise
            _free_cache()
            if len(requests) == 1:
                self.failed += 1
                log.warning("one prompt alone ran out of GPU memory: %s", str(exc).splitlines()[0][:200])
                return [Generation(text="", new_tokens=0, hit_limit=False, error="cuda_oom")]
            half = len(requests) // 2
            self.cap = half if self.cap is None else min(self.cap, half)
            self.splits += 1
            log.warning("out of GPU memory with %d prompts; retrying in halves of at most %d",
                        len(requests), self.cap)
            return self(requests[:half], *args) + self(requests[half:], *args)
        self.calls += 1
        return out
