"""Precomputed VAE latents in the shards: ``vidcurate latents`` and their reader.

Encoding every clip through the VAE each epoch costs more than the U-Net step on small
models, so ``vidcurate latents --shards IN --config CFG --output OUT`` writes a copy of
each shard with one more member per sample, ``<key>.latents.safetensors``: the tensor
``latents`` (C, N, H/f, W/f) of frames 0, s, 2s, ... (s = round(clip fps / data.fps),
each frame resized to cover ``data.height`` x ``data.width`` and centre-cropped, as the
loader does), in ``vae.store_dtype``. The safetensors header holds dtype and shape, and
its metadata the record of how they were made (:func:`latent_meta`): format, VAE,
subfolder, the VAE's weights fingerprint, latent channels and factor, scaling and shift
factors, fps, height, width, stride, frames. A trainer uses stored latents only when that
record matches its config and VAE and the tensor has the shape they give (else it decodes
the mp4 and encodes on the fly, counting ``latents_mismatch``); a member that does not
read whole or holds values that are not finite is a bad sample. safetensors never
unpickles.
"""

from __future__ import annotations

import json
import random
import struct

import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from schemas import ClipRecord
from train.captions import window_caption
from train.config import DataConfig, TrainConfig
from train.latents import LatentCodec
from train.shards import SkipStats
from train.video_io import decode_frames

LATENTS_EXT = "latents.safetensors"
FORMAT = "vidcurate-latents/2"  # /2: the VAE's weights fingerprint, channels and factor in the record
MATCH_KEYS = ("format", "vae", "subfolder", "vae_weights", "channels", "factor", "scaling_factor",
              "shift_factor", "fps", "height", "width")
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def latent_meta(cfg: TrainConfig, codec: LatentCodec) -> dict[str, str]:
    """The part of a latents record that a trainer must match (strings, as safetensors
    metadata): format, VAE name/subfolder, the VAE's weights (:attr:`LatentCodec.fingerprint`:
    another VAE at the same path had passed as this one, a break test), its latent channels
    and downsampling factor, scaling and shift factors, fps, frame size."""
    d = cfg.data
    return {"format": FORMAT, "vae": cfg.vae.name, "subfolder": str(cfg.vae.subfolder or ""),
            "vae_weights": codec.fingerprint, "channels": str(codec.channels), "factor": str(codec.factor),
            "scaling_factor": repr(codec.scaling_factor), "shift_factor": repr(codec.shift_factor),
            "fps": repr(float(d.fps)), "height": str(d.height), "width": str(d.width)}


def read_latents(raw: bytes) -> tuple[torch.Tensor, dict[str, str]]:
    """``<key>.latents.safetensors`` bytes -> (latents (C, N, h, w) float32, metadata).
    Raises ValueError when the member is not a whole latents file of 4 dimensions, or
    holds NaN or infinite values."""
    try:
        (size,) = struct.unpack("<Q", raw[:8])
        meta = json.loads(raw[8 : 8 + size]).get("__metadata__") or {}
        tensor = st_load(raw)["latents"]
    except (struct.error, ValueError, KeyError, RuntimeError, SafetensorError) as err:
        # (SafetensorError, a member cut short, is no ValueError: it had ended the training, a break test)
        raise ValueError(f"not a latents member: {err}") from None
    if tensor.ndim != 4:
        raise ValueError(f"not a latents member: shape {tuple(tensor.shape)}, want (C, N, h, w)")
    tensor = tensor.float()
    if not bool(torch.isfinite(tensor).all()):  # a NaN had stopped the training as a diverged loss
        raise ValueError("latents that are not finite (NaN or infinite)")
    return tensor, meta


def encode_sample(sample: dict, cfg: TrainConfig, codec: LatentCodec,
                  device: torch.device) -> bytes:
    """The ``latents.safetensors`` member of one raw sample (mp4/json bytes). Raises
    ValidationError (bad record) or DecodeError (bad mp4)."""
    record = ClipRecord.model_validate_json(sample["json"])
    stride = max(1, round(record.clip.fps / cfg.data.fps))
    indices = list(range(0, record.clip.num_frames, stride))
    frames = decode_frames(sample["mp4"], indices, cfg.data.height, cfg.data.width,
                           cfg.data.decode_threads)
    video = torch.from_numpy(frames).permute(3, 0, 1, 2).float().div_(127.5).sub_(1.0)
    latents = codec.encode(video[None].to(device))[0].to(_DTYPES[cfg.vae.store_dtype]).cpu()
    meta = {**latent_meta(cfg, codec), "stride": str(stride), "frames": json.dumps(indices),
            "dtype": cfg.vae.store_dtype, "shape": json.dumps(list(latents.shape))}
    return st_save({"latents": latents.contiguous()}, metadata=meta)


def pick_latents(latents: torch.Tensor, frames: int, image_frames: int,
                 rng: random.Random) -> tuple[torch.Tensor, int] | None:
    """(C, N, h, w) stored latents -> ((C, frames + image_frames, h, w), start): ``frames``
    consecutive latent frames from a random ``start`` (a latent frame index), then
    ``image_frames`` random ones (joint image-video training); None when N < frames
    (clip too short)."""
    n = latents.shape[1]
    if n < frames:
        return None
    start = rng.randint(0, n - frames)
    images = sorted(rng.randrange(n) for _ in range(image_frames))
    return latents[:, list(range(start, start + frames)) + images], start


def _shape_fits(latents: torch.Tensor, expect: dict[str, str]) -> bool:
    """Whether (C, N, h, w) ``latents`` have the channels and the frame size over the factor
    that the record ``expect`` gives (True when it gives no channels)."""
    if "channels" not in expect:
        return True
    f = int(expect["factor"])
    return (latents.shape[0], *latents.shape[2:]) == (int(expect["channels"]), int(expect["height"]) // f,
                                                       int(expect["width"]) // f)


def latents_item(sample: dict, data: DataConfig, expect: dict[str, str], rng: random.Random,
                 stats: SkipStats) -> dict | None | bool:
    """A training item {"latents": (C, T+K, h, w), ...} from a sample's stored latents;
    False when they are missing or do not match ``expect`` (the caller decodes the
    mp4 instead), None when the clip is too short or the member is unreadable (counted)."""
    raw = sample.get(LATENTS_EXT)
    if raw is None:
        return False
    where = f"{sample['__url__']}:{sample['__key__']}"
    try:
        latents, meta = read_latents(raw)
    except ValueError as err:
        stats.record("bad_sample", f"{where}: {err}")
        return None
    if any(meta.get(k) != v for k, v in expect.items()) or not _shape_fits(latents, expect):
        if meta.get("format") != expect.get("format", FORMAT):  # (a review: said with no advice)
            stats.record("latents_mismatch", f"{where}: latents of an earlier format ({meta.get('format')}; "
                         f"now {FORMAT}): encoded on the fly; run vidcurate latents again to store them")
        else:
            stats.record("latents_mismatch", f"{where}: made with {meta} as {tuple(latents.shape)}, want {expect}")
        return False
    try:
        caption = sample["txt"].decode("utf-8").strip()
        record = ClipRecord.model_validate_json(sample["json"]) if data.caption == "window" else None
        if (stride := int(meta.get("stride", 1))) < 1:  # "3.0" had been an internal error (a break test)
            raise ValueError(f"latents stride {stride}")
    except (UnicodeDecodeError, ValidationError, ValueError, TypeError) as err:
        stats.record("bad_sample", f"{where}: {err}")
        return None
    picked = pick_latents(latents, data.frames, data.image_frames, rng)
    if picked is None:
        stats.record("short_clip", f"{where}: {latents.shape[1]} latent frames")
        return None
    picked, start = picked
    if record is not None:  # latent frame i is clip frame i * stride: the pixel path's window
        fps = record.clip.fps
        caption = window_caption(record, caption, start * stride / fps,
                                 ((start + data.frames - 1) * stride + 1) / fps)
    return {"latents": picked, "caption": caption, "key": sample["__key__"]}
