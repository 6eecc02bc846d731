"""Training data: WebDataset shards of curated clips -> batches of video tensors.

The stream of one process (rank) and loader worker is a webdataset pipeline:

    shard URLs (resampled, or shuffled per epoch and split by node, then by worker)
      -> samples (``train.shards``: mp4/json/txt bytes only, nothing unpickled)
      -> shuffle buffer (``webdataset.shuffle``)
      -> count (replay position) -> decode (PyAV: ``train.samples``, ``train.video_io``)
      -> batches {"video": (B, C, T, H, W), "caption": [str], ...}

Each clip gives T = ``data.frames`` frames at ``data.fps`` frames/s: the stride is
``round(record.clip.fps / data.fps)`` (at least 1) from a random start; frames are
resized to cover H x W and centre-cropped, then scaled to float32 in [-1, 1]. The
record comes from ``<key>.json`` via :class:`schemas.ClipRecord`. A clip shorter than
``(T - 1) * stride + 1`` frames is skipped and counted (``short_clip``).

Exact resume: every random choice is seeded from (seed, rank, worker, position), and
each batch carries its worker's position in the shuffled stream. A resumed loader
replays the stream up to that position reading tar bytes but decoding no video
(``LoaderState``), so N + M steps after a resume see the same batches as a straight
run. Loader worker ``i`` takes the place of worker ``(i + batches) % W`` so that the
DataLoader's round-robin order continues where it stopped.
"""

from __future__ import annotations

import random
import warnings
from dataclasses import dataclass, field
from typing import Iterator

import torch
import webdataset as wds
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from train.config import DataConfig
from train.shardlist import expand_shards
from train.shards import SkipStats, iter_samples
from train.samples import SchemaVersionError, decode_sample

__all__ = ["ClipStream", "DataError", "LoaderState", "SchemaVersionError", "decode_sample", "make_loader"]

MAX_CONSECUTIVE_SKIPS = 10_000


class DataError(RuntimeError):
    """The shards cannot feed training: every shard unusable or without a complete sample,
    every clip read skipped, or too few shards for the ranks and loader workers."""


@dataclass
class LoaderState:
    """Replay position: batches consumed and, per loader worker, samples consumed since
    the stream (re)started; ``restart``: the batch count at which it last restarted with
    new seeds (None: it runs from the run's start), because the loader workers or the
    ranks changed at a resume, or the run resumes without ``exact_resume``."""

    batches: int = 0
    seen: list[int] = field(default_factory=list)
    restart: int | None = None
    skipped: dict[int, dict[str, int]] = field(default_factory=dict)  # per worker, not saved

    def update(self, batch: dict) -> None:
        """Record that the training loop consumed ``batch``."""
        self.batches += 1
        worker = batch["__worker__"]
        self.seen.extend([0] * (worker + 1 - len(self.seen)))
        self.seen[worker] = batch["__seen__"]
        self.skipped[batch["__worker__"]] = batch["__skipped__"]

    def total_skipped(self) -> dict[str, int]:
        """Skipped shards/samples/clips by kind, summed over this rank's workers."""
        total: dict[str, int] = {}
        for counts in self.skipped.values():
            for kind, n in counts.items():
                total[kind] = total.get(kind, 0) + n
        return total


class ClipStream(IterableDataset):
    """Batches of decoded clips for one rank; see the module docstring.

    Yields dicts: ``video`` (B, C, T, H, W) float32 in [-1, 1], ``images``
    (B, C, K, H, W) or None, ``latents`` (B', C', T + K, h, w) stored VAE latents or
    None (only with ``latents``, the accepted latents record: see
    :func:`decode_sample`; then ``video`` holds the other B - B' clips, or is None),
    ``caption`` list[str], ``key`` list[str], and bookkeeping
    ``__worker__``, ``__seen__`` (replay position), ``__skipped__`` (counts by kind).
    """

    def __init__(self, shards: str | list[str], cfg: DataConfig, batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1, state: LoaderState | None = None,
                 exact_resume: bool = True, latents: dict | None = None):
        super().__init__()
        self.latents = latents
        self.urls = expand_shards(shards)
        self.cfg, self.batch_size, self.seed = cfg, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.state = state or LoaderState()
        self.exact_resume = exact_resume
        feeds = world_size * max(1, cfg.num_workers)
        if not cfg.resampled and len(self.urls) < feeds:
            raise DataError(f"{len(self.urls)} shards cannot feed {world_size} ranks x "
                            f"{max(1, cfg.num_workers)} loader workers; set data.resampled: true or add shards")

    def _my_shards(self, worker: int, workers: int) -> list[str]:
        if self.cfg.resampled:
            return self.urls
        mine = self.urls[self.rank :: self.world_size][worker::workers]
        if not mine:
            raise DataError(f"{len(self.urls)} shards cannot feed {self.world_size} ranks x "
                            f"{workers} workers; set data.resampled: true or add shards")
        return mine

    def _shard_urls(self, mine: list[str], seed: str) -> Iterator[str]:
        if self.cfg.resampled:
            rng = random.Random(f"{seed}:shards")
            while True:
                yield rng.choice(mine)
        epoch = 0
        while True:
            order = list(mine)
            random.Random(f"{seed}:epoch{epoch}").shuffle(order)
            yield from order
            epoch += 1

    def _worker(self) -> tuple[int, int, int, str]:
        """(logical worker id, workers, samples to replay, seed) of this loader process."""
        info = get_worker_info()
        physical, workers = (info.id, info.num_workers) if info else (0, 1)
        logical = (physical + self.state.batches) % workers
        seed = f"{self.seed}:{self.rank}:{logical}"
        if self.state.restart is not None:
            seed += f":restart{self.state.restart}"
        seen = self.state.seen[logical] if len(self.state.seen) == workers else 0
        return logical, workers, seen, seed

    def __iter__(self) -> Iterator[dict]:
        worker, workers, skip, seed = self._worker()
        stats, mine = SkipStats(), self._my_shards(worker, workers)
        pipeline = wds.DataPipeline(
            lambda: self._shard_urls(mine, seed),
            lambda urls: _samples(urls, mine, stats),
            wds.shuffle(self.cfg.shuffle_buffer, self.cfg.shuffle_initial,
                        rng=random.Random(f"{seed}:shuffle")),
        )
        return self._batches(iter(pipeline), worker, skip, seed, stats)

    def _batches(self, samples: Iterator[dict], worker: int, skip: int, seed: str,
                 stats: SkipStats) -> Iterator[dict]:
        buf: list[dict] = []
        misses = 0
        stats.muted = skip > 0  # the replay re-reads what the run before counted (and would count only some)
        for pos, raw in enumerate(samples, start=1):
            if pos <= skip:
                stats.muted = pos < skip  # what is read after the run before's last batch counts again
                continue
            item = decode_sample(raw, self.cfg, random.Random(f"{seed}:{pos}"), stats,
                                 self.latents)
            if item is None:
                misses += 1
                if misses >= MAX_CONSECUTIVE_SKIPS:
                    kinds = {k: n for k, n in stats.counts.items() if k != "ignored_member"}
                    hint = (f" (each clip is shorter than data.frames = {self.cfg.frames} at "
                            f"data.fps = {self.cfg.fps})" if max(kinds, key=kinds.get, default="") == "short_clip"
                            else "")
                    raise DataError(f"{misses} samples in a row skipped{hint}: {kinds}")
                continue
            misses = 0
            buf.append(item)
            if len(buf) == self.batch_size:
                yield collate(buf, worker, pos, stats)
                buf = []


def _samples(urls: Iterator[str], mine: list[str], stats: SkipStats) -> Iterator[dict]:
    """Samples of each shard in turn. Raises :class:`DataError` once every shard is bad or
    was read whole without one complete sample (an empty tar, samples lacking their mp4,
    json or txt): the stream would otherwise go round them for ever."""
    empty: set[str] = set()
    for url in urls:
        count = 0
        for sample in iter_samples(url, stats):
            count += 1
            yield sample
        if count == 0 and url not in stats.bad_shards:
            empty.add(url)
        if stats.bad_shards | empty >= set(mine):
            kinds = {k: n for k, n in stats.counts.items() if k != "ignored_member"}
            bad, hollow = len(stats.bad_shards & set(mine)), len(empty & set(mine))
            what = [f"{bad} unreadable"] if bad else []
            what += [f"{hollow} read whole without one"] if hollow else []
            what += [f"samples skipped: {', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}"] if kinds else []
            shards = f"{len(mine)} shard{'s' if len(mine) != 1 else ''}"
            raise DataError(f"none of the {shards} of this loader holds a complete sample (an mp4, json "
                            f"and txt under one key): {'; '.join(what)}")


def collate(items: list[dict], worker: int, seen: int, stats: SkipStats) -> dict:
    """Stack decoded samples into a batch dict (see :class:`ClipStream`); items with
    stored latents come first (``latents``), then decoded ones (``video``/``images``),
    and ``caption``/``key`` follow that order."""
    stored = [it for it in items if "latents" in it]
    items = stored + [it for it in items if "latents" not in it]
    pixels = items[len(stored):]
    images = [it["images"] for it in pixels]
    return {
        "latents": torch.stack([it["latents"] for it in stored]) if stored else None,
        "video": torch.stack([it["video"] for it in pixels]) if pixels else None,
        "images": torch.stack(images) if images and images[0] is not None else None,
        "caption": [it["caption"] for it in items],
        "key": [it["key"] for it in items],
        "__worker__": worker,
        "__seen__": seen,
        "__skipped__": dict(stats.counts),
    }


def make_loader(stream: ClipStream, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over ``stream`` with ``data.num_workers`` processes (batches are
    formed in the workers, so ``batch_size=None``); ``pin_memory`` for CUDA copies."""
    workers, state = stream.cfg.num_workers, stream.state
    replays = len(state.seen) == max(1, workers) and (stream.exact_resume or not state.batches)
    if not replays:
        if state.batches:  # a resumed run: new seeds, or it would train on the run's first batches again
            if state.seen and len(state.seen) != max(1, workers):
                warnings.warn(f"loader workers changed ({len(state.seen)} -> {max(1, workers)}): "
                              "the data stream restarts with new seeds instead of replaying",
                              stacklevel=2)
            state.restart = state.batches
        state.seen = [0] * max(1, workers)
    return DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=pin_memory,
                      persistent_workers=workers > 0, prefetch_factor=2 if workers else None,
                      worker_init_fn=_leave_signals_to_the_trainer if workers else None)


def close_loader(batches) -> None:
    """Stop the worker processes of a DataLoader iterator (``iter(make_loader(...))``) now:
    each is told to finish and joined, as the iterator does when it is collected. A
    training that failed (a shard of a newer schema, no complete sample) held its iterator
    in the error's traceback past Python's exit, where multiprocessing's exit handler sent
    the workers SIGTERM, which they ignore (:func:`_leave_signals_to_the_trainer`), and
    waited for them without end: the error was printed and the command never ended (a
    break test). A worker still busy after torch's shutdown (a read that hangs) is killed.
    A no-op without workers."""
    shutdown = getattr(batches, "_shutdown_workers", None)  # torch's own, run by its __del__
    if shutdown is None:
        return
    from pipelines.exits import signals_deferred

    # A Ctrl-C or SIGTERM meanwhile is raised once the workers are gone: under DDP the
    # trainer's handler raises at once, and one mid-shutdown had left them to torchrun's
    # SIGKILL 30 s later (1 stop in 6 of a 2-rank break test).
    with signals_deferred():
        try:
            shutdown()  # each worker told to end and joined for a few seconds, then sent SIGTERM (ignored)
        finally:
            for worker in getattr(batches, "_workers", []):
                if worker.is_alive():  # busy in a read that does not end: it would hold the exit
                    worker.kill()
                    worker.join(timeout=5)


def _leave_signals_to_the_trainer(worker_id: int) -> None:
    """In each loader process: ignore Ctrl-C and SIGTERM, which the training process acts
    on (a checkpoint after the current step, then the loader is shut down). A SIGTERM to the
    whole process group (systemd, Slurm's scancel, ``kill -- -PGID``) had killed the loader
    workers first, and the run ended as an internal error with no checkpoint."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
