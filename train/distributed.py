"""Process-group setup for DDP (Li et al. 2020, "PyTorch Distributed") under torchrun.

``torchrun --nproc_per_node G [--nnodes N --rdzv-endpoint HOST:PORT] -m train.cli train
...`` sets RANK, WORLD_SIZE and LOCAL_RANK; :func:`setup` then joins the process group
with NCCL on CUDA and gloo on CPU. Without those variables the run is one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on rank 0 (which logs and writes checkpoints)."""
        return self.rank == 0


def setup() -> DistInfo:
    """Join the torchrun process group if WORLD_SIZE > 1; pick the device
    (``cuda:LOCAL_RANK`` when CUDA is available, else CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank, world, local, device)


def cleanup() -> None:
    """Leave the process group (no-op for a single process)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def gather(t: torch.Tensor, info: DistInfo) -> list[torch.Tensor]:
    """Every rank's copy of ``t`` (same shape and dtype on all ranks), on CPU."""
    if info.world_size == 1:
        return [t.cpu()]
    src = t.to(info.device)
    out = [torch.empty_like(src) for _ in range(info.world_size)]
    dist.all_gather(out, src)
    return [o.cpu() for o in out]


def mean(value: torch.Tensor, info: DistInfo) -> float:
    """Mean of a scalar tensor over ranks."""
    if info.world_size > 1:
        value = value.detach().clone().to(info.device)
        dist.all_reduce(value)
        value /= info.world_size
    return float(value)


def summed_counts(counts: dict[str, int], info: DistInfo) -> dict[str, int]:
    """``counts`` (e.g. skipped data by kind) summed over ranks; a collective call: every
    rank makes it, whether or not it counted anything (a break test: the log had shown
    rank 0's skipped data alone)."""
    if info.world_size == 1:
        return dict(counts)
    every: list[dict[str, int] | None] = [None] * info.world_size
    dist.all_gather_object(every, dict(counts))
    total: dict[str, int] = {}
    for one in every:
        for kind, n in (one or {}).items():
            total[kind] = total.get(kind, 0) + n
    return total
