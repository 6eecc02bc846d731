"""Checkpoints: model, EMA, optimiser, step, RNG and loader state in one file.

Files are ``<output>/checkpoints/ckpt-<step:08d>.pt``, written to a temporary name and
renamed, so a crash never leaves a half-written checkpoint under its final name; the
newest ``keep`` are kept. Everything stored is a tensor, number, string, list or dict
(RNG states are uint8 tensors, the config is its JSON-compatible dump), so loading
uses ``torch.load(..., weights_only=True)`` and never unpickles arbitrary objects.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import warnings
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


def save_checkpoint(output: str | Path, step: int, state: dict, keep: int, after: int = -1) -> Path:
    """Write ``state`` (tensors/numbers/strings/lists/dicts only) as the checkpoint of
    ``step``; delete all but the newest ``keep`` up to it, and any of a later step or of a
    step between ``after`` (the run's last checkpoint, written or resumed from) and
    ``step``: a resume takes the newest readable checkpoint, so such a one is one it skipped
    as damaged (it had stayed the newest by name, named as the run's latest, and with
    ``keep: 1`` the checkpoint just written was the one deleted; one of an earlier step
    than this had taken a place of ``keep``, a break test). Returns the file path.
    Raises :class:`CheckpointError` when the file cannot be written (a full disk)."""
    folder = checkpoint_dir(output)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ckpt-{step:08d}.pt"
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException as err:  # a full disk, or a Ctrl-C mid-save: no half file is left
        failed_write = isinstance(err, OSError) or (isinstance(err, RuntimeError) and (
            any(text in str(err) for text in _WRITE_FAILURES) or _nearly_full(folder)))
        tmp.unlink(missing_ok=True)
        if failed_write:
            why = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise CheckpointError(f"checkpoint {path} could not be written ({why}; a full disk?); the "
                                  "earlier checkpoints are kept") from None
        raise
    found = list_checkpoints(output)
    upto = [p for p in found if _step(p) <= step and not after < _step(p) < step]
    for old in upto[:-keep] + [p for p in found if _step(p) > step or after < _step(p) < step]:
        old.unlink(missing_ok=True)
    return path


def _step(path: Path) -> int:
    """The step in a checkpoint file's name (``ckpt-<step:08d>.pt``)."""
    return int(_NAME.match(path.name).group(1))


_WRITE_FAILURES = ("unexpected pos", "failed writing", "iostream error", "basic_ios")
"""What torch's zip writer says when its file cannot be written (the disk filled at the
file's start, inside a tensor, or at its end: ``basic_ios::clear: iostream error``)."""


def _nearly_full(folder: Path, margin: int = 1 << 20) -> bool:
    """Whether the file system of ``folder`` has under ``margin`` bytes (1 MiB) left."""
    try:
        return shutil.disk_usage(folder).free < margin
    except OSError:
        return False


def remove_partial(output: str | Path) -> list[Path]:
    """Remove ``*.pt.tmp`` files a run that was killed mid-save left in ``output``'s
    checkpoint folder (call only while no other run writes there); returns them."""
    folder = checkpoint_dir(output)
    gone = sorted(folder.glob("ckpt-*.pt.tmp")) if folder.is_dir() else []
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read (truncated, not a checkpoint)."""


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"  # torch.save's format: a zip archive
    except OSError as err:
        raise CheckpointError(f"checkpoint {path} cannot be read ({err.strerror or err})") from None
    if not zipped and Path(path).suffix in (".pt", ".pth", ".ckpt"):  # a full disk's empty or cut file
        raise CheckpointError(f"checkpoint {path} cannot be read (not a whole file torch.save wrote: "
                              "damaged or cut short)")
    if not zipped:  # a manifest.json or a log named by mistake: torch's own message advised unsafe loading
        raise CheckpointError(f"{path} is not a vidcurate checkpoint (not a file torch.save wrote; give the "
                              "training's output folder, or one of its ckpt-*.pt)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch's loaders raise many kinds on a damaged file
        text = str(err).strip()
        why = ("it holds objects other than tensors and plain values, which are not loaded: that could "
               "run code" if "Weights only load failed" in text else (text.splitlines() or [type(err).__name__])[0])
        raise CheckpointError(f"checkpoint {path} cannot be read ({why})") from None
    if not isinstance(state, dict) or not {"config", "model", "ema", "step"} <= state.keys():
        raise CheckpointError(f"{path} is not a vidcurate checkpoint (no config, model, ema and step)")
    from pydantic import ValidationError

    from train.config import TrainConfig

    try:
        TrainConfig.model_validate(state["config"])
    except ValidationError as err:  # a checkpoint of another vidcurate version, or edited
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CheckpointError(f"checkpoint {path} holds a config this version does not take "
                              f"({where}: {first['msg']})") from None
    if "context_dim" not in state:
        raise CheckpointError(f"{path} is not a complete vidcurate checkpoint (no context_dim)")
    return state


RESUME_KEYS = ("optimizer", "loader")
"""What a resume needs beyond what sampling does (with ``rng``, or the older
``rank_generators``)."""


def check_resumable(path: Path, state: dict) -> None:
    """Raise :class:`CheckpointError` when a readable checkpoint cannot resume a run: it
    lacks the optimiser, loader or RNG state (e.g. slimmed down for sampling)."""
    missing = [k for k in RESUME_KEYS if k not in state]
    if "rng" not in state and "rank_generators" not in state:
        missing.append("rng")
    if missing:
        raise CheckpointError(f"checkpoint {path} cannot resume training: it holds no {', '.join(missing)} "
                              "(a checkpoint for sampling only?)")


def load_latest(output: str | Path) -> tuple[Path, dict] | None:
    """``(path, state)`` of the newest readable checkpoint under ``output`` (a damaged newer
    one, e.g. cut short by a full disk, is skipped with a warning), or None when there is
    none. Raises :class:`CheckpointError` when checkpoints exist but none can be read."""
    found = list_checkpoints(output)
    for path in reversed(found):
        try:
            return path, _read(path)
        except CheckpointError as err:
            warnings.warn(f"{err}; trying an older one", stacklevel=2)
    if found:
        raise CheckpointError(f"none of the {len(found)} checkpoints under {checkpoint_dir(output)} can be read")
    return None


def load_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint on CPU with ``weights_only=True``: a file, or the newest readable
    one of a run folder (or of its ``checkpoints`` folder). Raises FileNotFoundError and
    :class:`CheckpointError`."""
    path = Path(path)
    if path.is_dir():
        latest = load_latest(path) or load_latest(path.parent)
        if latest is None:
            raise FileNotFoundError(f"no checkpoints under {path}")
        return latest[1]
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return _read(path)


def local_rng_state(generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    """This process's RNG states as uint8 tensors: ``generator`` (the training
    generator), torch's CPU generator and the CUDA generator of ``device`` (an empty
    tensor when ``device`` is not CUDA). Every rank saves its own (see
    :func:`gather_rng`), so a resumed multi-GPU run restores each GPU's stream."""
    cuda = (torch.cuda.get_rng_state(device) if device.type == "cuda"
            else torch.empty(0, dtype=torch.uint8))
    return {"generator": generator.get_state(), "torch": torch.get_rng_state(), "cuda": cuda}


def gather_rng(local: dict[str, torch.Tensor], gather) -> list[dict[str, torch.Tensor]]:
    """Every rank's :func:`local_rng_state`, rank order, via ``gather(tensor) ->
    list[tensor]`` (an all-gather; empty tensors are not sent)."""
    parts = {k: (gather(v) if v.numel() else None) for k, v in local.items()}
    world = len(next(p for p in parts.values() if p is not None))
    return [{k: (p[r] if p is not None else local[k]) for k, p in parts.items()}
            for r in range(world)]


def rank_seed(seed: int, rank: int, world_size: int, step: int) -> int:
    """A 63-bit seed of its own for ``rank`` of a run resumed at ``step`` with a new
    world size (SHA-256 of the four numbers)."""
    digest = hashlib.sha256(f"{seed}:{rank}:{world_size}:{step}".encode()).hexdigest()
    return int(digest[:15], 16)


def saved_rng(state: dict) -> dict:
    """A checkpoint's ``rng`` entry as ``{"ranks": [per-rank states]}``; checkpoints
    written before per-rank RNG states (one ``rng`` of rank 0 plus
    ``rank_generators``) give each rank its own generator and rank 0's CPU state."""
    rng = state["rng"]
    if "ranks" in rng:
        return rng
    empty = torch.empty(0, dtype=torch.uint8)
    return {"ranks": [{"generator": g, "torch": rng["torch"], "cuda": empty}
                      for g in state["rank_generators"]]}


def restore_rng(saved: dict, generator: torch.Generator, rank: int, world_size: int,
                device: torch.device, seed: int, step: int) -> bool:
    """Restore this rank's RNG states from a checkpoint's ``rng`` entry.

    Same world size: rank r gets exactly the generator, CPU and CUDA states that rank r
    saved (True). Another world size: the saved streams cannot be shared out, so each
    rank seeds its generator, CPU and CUDA RNG from :func:`rank_seed` (distinct per
    rank; False).
    """
    ranks = saved["ranks"]
    if len(ranks) == world_size:
        mine = ranks[rank]
        generator.set_state(mine["generator"])
        torch.set_rng_state(mine["torch"])
        if device.type == "cuda" and mine["cuda"].numel():
            torch.cuda.set_rng_state(mine["cuda"], device)
        return True
    s = rank_seed(seed, rank, world_size, step)
    generator.manual_seed(s)
    torch.manual_seed(s ^ 0x5DEECE66D)  # CPU and every CUDA device
    return False
