"""Each training window is conditioned on the caption events its frames show."""

from __future__ import annotations

import random

from schemas import Caption, CaptionEvent
from train.captions import window_caption
from train.config import DataConfig
from train.data import decode_sample
from train.shards import SkipStats

from .synth_shards import make_mp4, make_record

EVENTS = [CaptionEvent(start_s=0.0, end_s=0.75, text="camera pans left, strong motion"),
          CaptionEvent(start_s=0.75, end_s=1.5, text="static camera, still")]
WHOLE = "0.0-0.8 s: camera pans left, strong motion; 0.8-1.5 s: static camera, still"


def _record(short=None):
    rec = make_record("00000000000000aa", 36, 24.0, 1000)
    rec.caption = Caption(text=WHOLE, events=EVENTS, short=short)
    return rec


def test_window_caption_takes_the_events_it_overlaps():
    rec = _record()
    assert window_caption(rec, WHOLE, 0.1, 0.6) == "camera pans left, strong motion."
    assert window_caption(rec, WHOLE, 0.9, 1.4) == "static camera, still."
    assert window_caption(rec, WHOLE, 0.5, 1.0) == "camera pans left, strong motion, then static camera, still."
    assert window_caption(rec, WHOLE, 2.5, 3.0) == WHOLE  # outside every event: the whole text
    with_short = _record(short="A red car drives down a street.")
    assert window_caption(with_short, WHOLE, 0.9, 1.4) == "A red car drives down a street. Static camera, still."
    rec.caption = Caption(text=WHOLE)  # no events
    assert window_caption(rec, WHOLE, 0.1, 0.6) == WHOLE


def test_decoded_sample_caption_follows_its_frames():
    rec = _record()
    sample = {"__key__": rec.clip_id, "__url__": "mem", "mp4": make_mp4(36, 24.0),
              "json": rec.model_dump_json().encode(), "txt": WHOLE.encode()}
    cfg = DataConfig(frames=4, fps=8.0, height=16, width=16)  # stride 3: 10 frames, 0.42 s
    seen = set()
    for seed in range(40):
        item = decode_sample(sample, cfg, random.Random(seed), SkipStats())
        start = random.Random(seed).randint(0, 36 - 10)  # clip_indices' draw
        first, last = start / 24.0, (start + 10) / 24.0
        want = [e.text for e in EVENTS if e.start_s < last and e.end_s > first]
        assert item["caption"] == ", then ".join(want) + "."
        seen.add(item["caption"])
    assert len(seen) == 3  # windows in the pan, in the still part, and across the change
    whole = decode_sample(sample, cfg.model_copy(update={"caption": "clip"}), random.Random(0), SkipStats())
    assert whole["caption"] == WHOLE


def test_stored_latents_get_the_caption_of_the_same_window(latent_config, tiny_sd):
    from train.config import VaeConfig, config_from_dict
    from train.latent_shards import LATENTS_EXT, encode_sample, latent_meta, latents_item
    from train.latents import LatentCodec

    import torch

    cfg = config_from_dict(latent_config)
    data = cfg.data.model_copy(update={"frames": 3})  # 8 fps from 24: stride 3, 12 latent frames
    cfg = cfg.model_copy(update={"data": data})
    codec = LatentCodec.from_config(VaeConfig(name=str(tiny_sd), subfolder="vae"))
    rec = _record()
    sample = {"__key__": rec.clip_id, "__url__": "mem", "mp4": make_mp4(36, 24.0),
              "json": rec.model_dump_json().encode(), "txt": WHOLE.encode()}
    meta = latent_meta(cfg, codec)
    stored = {**sample, LATENTS_EXT: encode_sample(sample, cfg, codec, torch.device("cpu"))}
    captions = set()
    for seed in range(30):
        a = latents_item(stored, data, meta, random.Random(seed), SkipStats())
        b = decode_sample(sample, data, random.Random(seed), SkipStats(), latents=meta)  # encodes on the fly
        assert a["caption"] == b["caption"]
        captions.add(a["caption"])
    assert len(captions) == 3
