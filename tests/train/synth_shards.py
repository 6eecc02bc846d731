"""Synthetic shards with exact truth: PyAV-encoded grey ramps of known frame count,
valid ``ClipRecord`` json and captions, written with ``webdataset.TarWriter``; the data
tests' loader settings (``CFG``) and how they read batches and an epoch's keys."""

from __future__ import annotations

import io
from itertools import islice
from pathlib import Path

import av
import numpy as np
import webdataset as wds

from schemas import ClipRecord, ClipVideo, SourceInfo, Span
from train.config import DataConfig
from train.data import ClipStream, make_loader

# (frames, fps) per clip; (12, 24.0) is too short for 8 frames at 8 fps (needs 22).
CLIPS = [(24, 24.0), (30, 24.0), (12, 24.0), (10, 8.0), (26, 24.0), (24, 24.0), (40, 30.0),
         (24, 24.0)]
WIDTH, HEIGHT = 64, 48


def ramp_level(i: int) -> int:
    """Grey level (0..255) of frame ``i`` in every synthetic clip."""
    return 10 + 6 * i


def make_mp4(frames: int, fps: float, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """H.264 yuv420p mp4 whose frame i is flat grey ``ramp_level(i)``."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=round(fps))
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"crf": "0"}
        for i in range(frames):
            a = np.full((height, width, 3), ramp_level(i), np.uint8)
            c.mux(s.encode(av.VideoFrame.from_ndarray(a, format="rgb24")))
        c.mux(s.encode(None))
    return buf.getvalue()


def make_record(key: str, frames: int, fps: float, size: int) -> ClipRecord:
    """A valid record for a synthetic clip."""
    dur = frames / fps
    src = SourceInfo(path=f"/synthetic/{key}.mp4", source_id=key, size_bytes=size,
                     duration_s=dur, fps=fps, num_frames=frames, width=WIDTH, height=HEIGHT,
                     codec="h264")
    span = Span(shot_index=0, start_frame=0, end_frame=frames, start_s=0.0, end_s=dur)
    clip = ClipVideo(num_frames=frames, fps=fps, width=WIDTH, height=HEIGHT, duration_s=dur,
                     size_bytes=size)
    return ClipRecord(clip_id=key, source=src, span=span, clip=clip)


def write_shard(path: Path, clips: list[tuple[int, float]], first: int = 0) -> None:
    """Write one shard of synthetic samples <key>.mp4/.json/.txt."""
    with wds.TarWriter(str(path)) as sink:
        for j, (frames, fps) in enumerate(clips):
            key = f"{first + j:016x}"
            mp4 = make_mp4(frames, fps)
            rec = make_record(key, frames, fps, len(mp4))
            sink.write({"__key__": key, "mp4": mp4, "json": rec.model_dump_json().encode(),
                        "txt": f"a grey ramp number {first + j}".encode()})


CFG = DataConfig(frames=8, fps=8.0, height=32, width=24, shuffle_buffer=4, shuffle_initial=2)


def batches(shards, cfg=CFG, n=4, batch_size=2, **kw):
    return list(islice(iter(make_loader(ClipStream(shards, cfg, batch_size, seed=0, **kw))), n))


def keys_of_epoch(shards, cfg=CFG) -> set[str]:
    """Keys of the first pass over non-resampled shards: one worker, batch size 1, no
    shuffle buffer, so the first epoch ends before any key comes again."""
    cfg = cfg.model_copy(update={"resampled": False, "shuffle_buffer": 1, "num_workers": 0})
    keys: set[str] = set()
    for batch in ClipStream(shards, cfg, 1, seed=0):
        if batch["key"][0] in keys:
            return keys
        keys.add(batch["key"][0])
    raise AssertionError("the stream ended")
