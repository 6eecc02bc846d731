"""One training sample: shard bytes (mp4, json, txt) -> video tensor and caption.

The frames of a clip (:func:`clip_indices`), the record's schema check
(:func:`check_schema_version`) and the decode (:func:`decode_sample`) that
:class:`train.data.ClipStream` runs on every sample it draws; split from
:mod:`train.data`, which re-exports :func:`decode_sample` and :class:`SchemaVersionError`.
"""

from __future__ import annotations

import json
import random

import numpy as np
import torch
from pydantic import ValidationError

from schemas import SCHEMA_VERSION, ClipRecord
from train.captions import window_caption
from train.config import DataConfig
from train.shards import SkipStats
from train.video_io import DecodeError, decode_frames


def clip_indices(num_frames: int, clip_fps: float, cfg: DataConfig, rng: random.Random,
                 grid: bool = False) -> tuple[list[int], list[int]] | None:
    """Frame indices of one training clip, or None when the clip is too short.

    Returns (video indices: ``cfg.frames`` frames at stride round(clip_fps / cfg.fps)
    from a random start, image indices: ``cfg.image_frames`` independent random frames
    for joint image-video training). ``grid=True`` (latent training) takes every frame
    from the stride grid 0, s, 2s, ... with the same random draws as
    :func:`train.latent_shards.pick_latents`, so clips encoded on the fly and stored
    latents give the same frames.
    """
    stride = max(1, round(clip_fps / cfg.fps))
    span = (cfg.frames - 1) * stride + 1
    if num_frames < span:
        return None
    if grid:
        n = -(-num_frames // stride)  # frames on the grid
        start = stride * rng.randint(0, n - cfg.frames)
        images = sorted(stride * rng.randrange(n) for _ in range(cfg.image_frames))
    else:
        start = rng.randint(0, num_frames - span)
        images = sorted(rng.randrange(num_frames) for _ in range(cfg.image_frames))
    return [start + i * stride for i in range(cfg.frames)], images


class SchemaVersionError(RuntimeError):
    """A shard record written by a newer vidcurate than this trainer understands."""


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def check_schema_version(raw_json: bytes, where: str) -> None:
    """Raise :class:`SchemaVersionError` when the record's ``schema_version`` is newer
    than :data:`schemas.SCHEMA_VERSION` (the shards need a newer trainer: skipping such
    records as bad samples would silently drop the whole data set). Unreadable JSON or
    a missing/odd version is left to the record validation (a counted bad sample)."""
    try:
        version = json.loads(raw_json).get("schema_version")
        newer = isinstance(version, str) and _version(version) > _version(SCHEMA_VERSION)
    except (ValueError, AttributeError, TypeError):
        return
    if newer:
        raise SchemaVersionError(
            f"{where}: record schema_version {version} is newer than this trainer's "
            f"{SCHEMA_VERSION}; upgrade vidcurate to train on these shards")


def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (3, N, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float().div_(127.5).sub_(1.0)


def decode_sample(sample: dict, cfg: DataConfig, rng: random.Random,
                  stats: SkipStats, latents: dict | None = None) -> dict | None:
    """Raw sample (mp4/json/txt bytes) -> {"video": (C, T, H, W) float32 in [-1, 1],
    "images": (C, K, H, W) or None, "caption": str, "key": str}; None when skipped
    (too short, or an undecodable mp4/record/caption), counted in ``stats``.

    ``latents``: the latents record a trainer accepts (:func:`train.latent_shards.
    latent_meta`); a sample with matching stored latents gives {"latents": (C', T+K,
    h, w) float32, "caption", "key"} instead, without decoding its mp4."""
    where = f"{sample['__url__']}:{sample['__key__']}"
    check_schema_version(sample["json"], where)
    if latents is not None:
        from train.latent_shards import latents_item

        item = latents_item(sample, cfg, latents, rng, stats)
        if item is not False:
            return item
    try:
        record = ClipRecord.model_validate_json(sample["json"])
        caption = sample["txt"].decode("utf-8").strip()
    except (ValidationError, UnicodeDecodeError) as err:
        stats.record("bad_sample", f"{where}: {err}")
        return None
    picked = clip_indices(record.clip.num_frames, record.clip.fps, cfg, rng,
                          grid=latents is not None)
    if picked is None:
        stats.record("short_clip", f"{where}: {record.clip.num_frames} frames")
        return None
    video_idx, image_idx = picked
    try:
        frames = decode_frames(sample["mp4"], video_idx + image_idx, cfg.height, cfg.width,
                               cfg.decode_threads)
    except DecodeError as err:
        kind = "short_clip" if "ended early" in str(err) else "bad_sample"
        stats.record(kind, f"{where}: {err}")
        return None
    tensor = _to_tensor(frames)
    t = cfg.frames
    images = tensor[:, t:] if cfg.image_frames else None
    if cfg.caption == "window":
        fps = record.clip.fps
        caption = window_caption(record, caption, video_idx[0] / fps, (video_idx[-1] + 1) / fps)
    return {"video": tensor[:, :t], "images": images, "caption": caption, "key": record.clip_id}
