"""Checkpoints: model, EMA, optimiser, step, RNG and loader state in one file.

Files are ``<output>/checkpoints/ckpt-<step:08d>.pt``, written to a temporary name and
renamed, so a crash never leaves a half-written checkpoint under its final name; the
newest ``keep`` are kept. Everything stored is a tensor, number, string, list or dict
(RNG states are uint8 tensors, the config is its JSON-compatible dump), so loading
uses ``torch.load(..., weights_only=True)`` and never unpickles arbitrary objects.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

_NAME = re.compile(r"^ckpt-(\d{8})\.pt$")


def checkpoint_dir(output: str | Path) -> Path:
    """``<output>/checkpoints``."""
    return Path(output) / "checkpoints"


def list_checkpoints(output: str | Path) -> list[Path]:
    """Checkpoint files under ``output``, oldest step first."""
    folder = checkpoint_dir(output)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(output: str | Path) -> Path | None:
    """The checkpoint with the highest step, or None."""
    found = list_checkpoints(output)
    return found[-1] if found else None


def save_checkpoint(output: str | Path, step: int, state: dict, keep: int) -> Path:
    """Write ``state`` (tensors/numbers/strings/lists/dicts only) as the checkpoint of
    ``step``; delete all but the newest ``keep``. Returns the file path."""
    folder = checkpoint_dir(output)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ckpt-{step:08d}.pt"
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    for old in list_checkpoints(output)[:-keep]:
        old.unlink()
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint on CPU with ``weights_only=True``. Raises FileNotFoundError."""
    path = Path(path)
    if path.is_dir():
        found = latest_checkpoint(path) or latest_checkpoint(path.parent)
        if found is None:
            raise FileNotFoundError(f"no checkpoints under {path}")
        path = found
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return torch.load(path, map_location="cpu", weights_only=True)


def rng_state(generator: torch.Generator) -> dict:
    """RNG states as uint8 tensors: the training generator, torch CPU, CUDA devices."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"generator": generator.get_state(), "torch": torch.get_rng_state(), "cuda": cuda}


def restore_rng(state: dict, generator: torch.Generator) -> None:
    """Inverse of :func:`rng_state` (CUDA states only when the device count matches)."""
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda", [])
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
