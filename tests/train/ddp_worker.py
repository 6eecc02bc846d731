"""Run under torchrun by ``test_ddp.py``: train a few DDP steps, save this rank's weights.

Usage: torchrun --standalone --nproc_per_node 2 ddp_worker.py CONFIG.json SHARDS OUT STEPS
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from train import distributed
from train.config import config_from_dict
from train.loop import Trainer


def main(config_json: str, shards: str, out: str, steps: str) -> int:
    cfg = config_from_dict(json.loads(Path(config_json).read_text()))
    info = distributed.setup()
    try:
        trainer = Trainer(cfg, shards, out, info)
        initial = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        trainer.fit(int(steps))
        torch.save({"initial": initial, "final": trainer.model.state_dict(),
                    "ema": trainer.ema.module.state_dict(), "step": trainer.step},
                   Path(out) / f"rank{info.rank}.pt")
    finally:
        distributed.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
