"""Optimiser, learning-rate schedule and EMA of weights.

- AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"), weight
  decay on matrices and kernels only (not on biases, norms or embeddings of size 1-D).
- Learning rate: linear warmup, then cosine decay to ``min_lr`` (Loshchilov & Hutter
  2017, "SGDR"), a pure function of the step so resuming needs no scheduler state.
- EMA of weights, used for sampling (as in Ho et al. 2020 and Ho et al. 2022).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from train.config import OptimConfig


def make_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW over ``model``'s trainable parameters; 1-D tensors get no weight decay."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


def lr_at(step: int, cfg: OptimConfig) -> float:
    """Learning rate for optimiser step ``step`` (0-based): linear warmup over
    ``warmup_steps`` from lr / warmup_steps to lr, then cosine to ``min_lr`` at
    ``max_steps`` (held there after)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


class EMA:
    """Exponential moving average of a model's weights.

    After each optimiser step: ema = d * ema + (1 - d) * w with d = min(decay,
    (1 + n) / (10 + n)) at update n (a warmup that lets early averages follow the
    weights). Buffers are copied. ``module`` is a frozen deep copy in eval mode.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold ``model``'s current weights into the average."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for e, p in zip(self.module.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1.0 - d)
        for e, b in zip(self.module.buffers(), model.buffers()):
            e.copy_(b)

    def state_dict(self) -> dict:
        """Weights and update count (tensors and ints only)."""
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        """Inverse of :meth:`state_dict`."""
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
