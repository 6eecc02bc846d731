"""The training loop: v-prediction diffusion training of a video U-Net on shards.

The denoiser is the 3D U-Net of Ho et al. (pixels or VAE latents) or an image U-Net inflated with
temporal layers (:mod:`train.build`). With a VAE, clips are encoded per frame on the training
device unless the shards carry matching latents.

One optimiser step = ``optim.grad_accum`` micro-batches of ``optim.batch_size`` clips per process:
captions dropped to "" with ``text.caption_dropout`` (classifier-free guidance), encoded by the
frozen text encoder, the v-prediction loss (Salimans & Ho 2022) under bf16 autocast on CUDA,
backward (gradients all-reduced by DDP on the last micro-batch only), gradient clipping, AdamW at
the warmup-cosine learning rate, EMA update. Rank 0 logs loss, lr, samples/s (all ranks) and, on
CUDA, MFU to stdout and ``<output>/log.jsonl``, and writes checkpoints every
``train.checkpoint_every`` steps and at the end. All randomness comes from seeded generators whose
states are saved, and the loader replays its stream on resume, so a resumed run follows the same
trajectory as a straight one (bit-exact on CPU with ``train.deterministic``).
"""

from __future__ import annotations

import json
import os
from contextlib import nullcontext
from functools import partial
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from train.checkpoint import (check_resumable, gather_rng, load_latest, local_rng_state, rank_seed,
                              restore_rng, save_checkpoint, saved_rng)
from train.config import TrainConfig
from train.data import ClipStream, LoaderState, close_loader, make_loader
from train.diffusion import make_diffusion
from train.distributed import DistInfo, gather, mean, summed_counts
from train.frozen import check_same_text, check_same_vae, load_weights
from train.metrics import Throughput, peak_flops, train_flops_per_sample
from train.build import build_codec, build_model, sample_shape
from train.latent_shards import latent_meta
from train.model import count_parameters
from train.optim import EMA, lr_at, make_optimizer, set_lr
from train.resumecheck import check_resume_config
from train.text import TextEncoder, drop_captions


def set_determinism(enabled: bool) -> None:
    """Deterministic kernels (and cuBLAS workspace) when ``enabled``."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


class StopRequested(Exception):
    """A Ctrl-C or SIGTERM arrived and training stopped between steps, with a checkpoint of
    the last step written: ``signum``, ``step``."""

    def __init__(self, signum: int, step: int):
        super().__init__(f"stopped by signal {signum} at step {step}")
        self.signum, self.step = signum, step


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite (the command exits 2; no checkpoint of the
    diverged state is written)."""


def _json_safe(value):
    """``value`` with non-finite floats (NaN, infinities) as None, recursively."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class Trainer:
    """Owns model, EMA, optimiser, generator and loader state for one process.

    ``shards``: anything :func:`train.shardlist.expand_shards` accepts; ``output``: run
    folder for checkpoints and logs. Raises ConfigError on an incompatible resume.
    """

    def __init__(self, cfg: TrainConfig, shards, output: str | Path, dist: DistInfo):
        self.cfg, self.shards, self.output, self.dist = cfg, shards, Path(output), dist
        set_determinism(cfg.train.deterministic)
        torch.manual_seed(cfg.train.seed)
        self.text = TextEncoder(cfg.text).to(dist.device)
        self.codec = build_codec(cfg)
        if self.codec is not None:
            self.codec.to(dist.device)
        self.model = build_model(cfg, self.text.dim, self.codec).to(dist.device)
        self.ema = EMA(self.model, cfg.optim.ema_decay)
        self.optimizer = make_optimizer(self.model, cfg.optim)
        self.generator = torch.Generator(dist.device).manual_seed(cfg.train.seed * 7919 + dist.rank)
        if dist.rank:  # same initial weights on every rank, then each its own dropout stream (had been shared)
            torch.manual_seed(rank_seed(cfg.train.seed, dist.rank, dist.world_size, 0) ^ 0x5DEECE66D)
        self.vpred = make_diffusion(cfg.diffusion)
        self.step, self.loader_state = 0, LoaderState()
        self.saved_step = -1  # the step of the newest checkpoint written or resumed from
        self._bad: torch.Tensor | None = None  # fit's count of steps whose loss was not finite
        self.stop_signal: list[int] = []  # a signal number here: checkpoint after this step, then stop
        ids = [dist.device.index] if dist.device.type == "cuda" else None
        self.ddp = DDP(self.model, device_ids=ids) if dist.world_size > 1 else None
        net = self.ddp or self.model
        self.net = torch.compile(net) if cfg.train.compile else net
        bf16 = cfg.train.precision == "bf16" or (cfg.train.precision == "auto" and dist.device.type == "cuda")
        self.autocast = (partial(torch.autocast, dist.device.type, dtype=torch.bfloat16)
                         if bf16 else nullcontext)

    # --- checkpoint state -------------------------------------------------------
    def state_dict(self) -> dict:
        """Checkpoint content (tensors/numbers/strings/lists/dicts; collective call)."""
        seen = gather(torch.tensor(self.loader_state.seen, dtype=torch.long), self.dist)
        rngs = gather_rng(local_rng_state(self.generator, self.dist.device),
                          partial(gather, info=self.dist))
        return {
            "step": self.step, "config": self.cfg.model_dump(mode="json"),
            "context_dim": self.text.dim, "world_size": self.dist.world_size,
            "unet_config": getattr(self.model, "unet_config", None),
            "vae_weights": self.codec.fingerprint if self.codec is not None else None,
            "text_weights": self.text.fingerprint,
            "model": self.model.state_dict(), "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": {"ranks": rngs},
            "loader": {"batches": self.loader_state.batches, "seen": [s.tolist() for s in seen],
                       "restart": self.loader_state.restart},
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict` (this rank's generator and loader position)."""
        saved = TrainConfig.model_validate(state["config"])
        check_resume_config(saved, self.cfg)
        check_same_vae(state, self.codec, self.cfg.vae.name if self.cfg.vae is not None else "")
        check_same_text(state, self.text, self.cfg.text.name or "")
        load_weights(self.model, state["model"], "model")
        load_weights(self.ema, state["ema"], "EMA")
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        same_world = restore_rng(saved_rng(state), self.generator, self.dist.rank,
                                 self.dist.world_size, self.dist.device, self.cfg.train.seed,
                                 self.step)
        if not same_world:
            self.log({"event": "world size changed", "saved": state["world_size"],
                      "now": self.dist.world_size,
                      "note": "each rank reseeded its RNG; the data stream restarts"})
        seen = state["loader"]["seen"][self.dist.rank] if same_world else []
        restart = state["loader"].get("restart")
        self.loader_state = LoaderState(int(state["loader"]["batches"]), list(seen),
                                        restart=None if restart is None else int(restart))

    def resume(self) -> bool:
        """Load the latest checkpoint under ``output``; False when there is none."""
        latest = load_latest(self.output)
        if latest is None:
            return False
        path, state = latest
        check_resumable(path, state)
        self.load_state_dict(state)
        self.saved_step = self.step
        self.log({"event": "resumed", "checkpoint": str(path), "step": self.step})
        return True

    # --- one step ---------------------------------------------------------------
    def inputs(self, batch: dict) -> torch.Tensor:
        """The batch's diffusion variable x0 (B, C, T + K, H, W): pixels, or VAE latents
        (stored ones first, then the decoded clips encoded now), in caption order."""
        parts = []
        if batch.get("latents") is not None:
            parts.append(batch["latents"].to(self.dist.device, non_blocking=True).float())
        if batch["video"] is not None:
            video = batch["video"].to(self.dist.device, non_blocking=True)
            if batch["images"] is not None:
                video = torch.cat([video, batch["images"].to(self.dist.device)], dim=2)
            parts.append(self.codec.encode(video) if self.codec is not None else video)
        return torch.cat(parts) if len(parts) > 1 else parts[0]

    def _micro_loss(self, batch: dict) -> torch.Tensor:
        x0 = self.inputs(batch)
        k = self.cfg.data.image_frames
        captions = drop_captions(batch["caption"], self.cfg.text.caption_dropout, self.generator)
        context, mask = self.text.encode(captions)
        with self.autocast():
            return self.vpred.loss(partial(self.net, image_frames=k), x0, context, mask,
                                   self.generator)

    def train_step(self, batches) -> torch.Tensor:
        """One optimiser step over ``grad_accum`` batches from ``batches``; returns the
        mean micro-batch loss (scalar tensor, not synchronised)."""
        accum = self.cfg.optim.grad_accum
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.dist.device)
        for i in range(accum):
            batch = next(batches)
            self.loader_state.update(batch)
            sync = self.ddp is None or i == accum - 1
            with nullcontext() if sync else self.ddp.no_sync():
                loss = self._micro_loss(batch) / accum
                loss.backward()
            total += loss.detach()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
        set_lr(self.optimizer, lr_at(self.step, self.cfg.optim))
        self.optimizer.step()
        self.ema.update(self.model)
        self.step += 1
        return total

    # --- the loop ---------------------------------------------------------------
    def log(self, record: dict) -> None:
        """Print and append one JSON line to ``<output>/log.jsonl`` (rank 0 only)."""
        if not self.dist.is_main:
            return
        self.output.mkdir(parents=True, exist_ok=True)
        line = json.dumps(_json_safe(record))  # NaN/Infinity are no JSON: null
        print(line, flush=True)
        with open(self.output / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def _diverged(self, what: str) -> None:
        """Log and raise :class:`TrainingDiverged` saying ``what`` and what to do."""
        self.log({"event": "diverged", "step": self.step})
        raise TrainingDiverged(
            f"{what}; the checkpoints written before are kept and none of this state is written: lower "
            "optim.lr (or raise optim.warmup_steps), then add --resume to continue from the latest (if it "
            "diverges again at once, that checkpoint's weights had already blown up: remove it)")

    def checkpoint(self) -> None:
        """Write a checkpoint of the current step (collective; rank 0 writes)."""
        finite = torch.stack([torch.isfinite(p).all() for p in self.model.parameters()]).all()
        if mean(finite.float(), self.dist) < 1 or (self._bad is not None and mean(self._bad, self.dist) > 0):
            self._diverged(f"the loss or the weights are not finite (NaN or infinite) at step {self.step}")
        state = self.state_dict()
        if self.dist.is_main:
            path = save_checkpoint(self.output, self.step, state, self.cfg.train.keep_checkpoints, self.saved_step)
            self.log({"event": "checkpoint", "step": self.step, "path": str(path)})
        self.saved_step = self.step

    def _flops(self) -> float | None:
        if peak_flops(self.dist.device) is None:
            return None
        d = self.cfg.data
        _, c, t, h, w = sample_shape(self.cfg, self.model, self.codec, 1)
        shape = (c, t + d.image_frames, h, w)
        self.model.eval()  # no dropout: leaves the global RNG untouched
        with self.autocast():
            flops = train_flops_per_sample(self.model, shape, self.cfg.text.max_length, d.image_frames)
        self.model.train()
        return flops

    def fit(self, max_steps: int | None = None) -> dict:
        """Train until step ``max_steps`` (default ``optim.max_steps``); returns the last
        log record."""
        stop = max_steps or self.cfg.optim.max_steps
        stored = (latent_meta(self.cfg, self.codec) if self.codec is not None
                  and self.cfg.vae.precomputed == "auto" else None)
        stream = ClipStream(self.shards, self.cfg.data, self.cfg.optim.batch_size,
                            self.cfg.train.seed, self.dist.rank, self.dist.world_size,
                            self.loader_state, self.cfg.train.exact_resume, stored)
        with torch.random.fork_rng(devices=[]):  # its base seed's draw had shifted dropout's RNG on resume
            batches = iter(make_loader(stream, pin_memory=self.dist.device.type == "cuda"))
        try:
            return self._fit(batches, stream, stop)
        finally:
            close_loader(batches)  # also when the loader or a step fails: workers gone before the exit

    def _fit(self, batches, stream: ClipStream, stop: int) -> dict:
        """The training loop of :meth:`fit` over the loader iterator ``batches``."""
        self.loader_state = stream.state
        flops, peak = self._flops(), peak_flops(self.dist.device)
        self.log({"event": "start", "step": self.step, "parameters": count_parameters(self.model),
                  "world_size": self.dist.world_size, "device": str(self.dist.device)})
        meter, record = Throughput(self.dist.device), {}
        per_step = self.cfg.optim.batch_size * self.cfg.optim.grad_accum * self.dist.world_size
        loss_sum, n = torch.zeros((), device=self.dist.device), 0
        bad = self._bad = torch.zeros((), device=self.dist.device)  # steps whose loss was not finite
        while self.step < stop:
            loss = self.train_step(batches)
            loss_sum += loss
            bad += (~torch.isfinite(loss)).float()  # no sync per step: read at log and checkpoint steps
            meter.add(per_step)
            n += 1
            logs = self.step % self.cfg.train.log_every == 0 or self.step == stop
            if logs and mean(bad, self.dist) > 0:
                self._diverged(f"the loss is not finite (NaN or infinite) by step {self.step}")
            if logs:
                rate = meter.lap()
                record = {"step": self.step, "loss": mean(loss_sum / n, self.dist),
                          "lr": self.optimizer.param_groups[0]["lr"], "samples_per_s": rate}
                if flops and peak:
                    record["mfu"] = flops * rate / (peak * self.dist.world_size)
                if skipped := summed_counts(self.loader_state.total_skipped(), self.dist):  # every rank calls it
                    record["skipped"] = skipped
                self.log(record)
                loss_sum, n = torch.zeros((), device=self.dist.device), 0
            if self.step % self.cfg.train.checkpoint_every == 0 or self.step == stop:
                self.checkpoint()
            if self.stop_signal and self.step < stop:  # a Ctrl-C or SIGTERM came during a step (one process only)
                if self.saved_step != self.step:
                    self.checkpoint()  # refused (TrainingDiverged) when the loss or weights are not finite
                raise StopRequested(self.stop_signal[0], self.step)
        return record
