"""The tiny offline VLM through the users' loader: batched generation, tokens, the stage."""

import numpy as np
import pytest

from curate.captioning import VLMCaptionStage
from curate.captioning.model import GenerationSettings, Request, VisionLanguageModel, resolve_dtype
from curate.captioning.prompts import Hints, build_messages
from curate.captioning.tiny import wire_answer
from curate.captioning.windows import Window


def _requests(n: int) -> list[Request]:
    rng = np.random.default_rng(1)
    out = []
    for k in range(n):
        times = [0.5 * i for i in range(k + 1)]
        msgs = build_messages(times, Hints(()), Window(0.0, 3.0), 3.0)
        out.append(Request([rng.integers(0, 256, (60 + 8 * k, 90, 3), dtype=np.uint8) for _ in times], msgs))
    return out


def test_batched_generation_matches_one_at_a_time(random_vlm):
    vlm = VisionLanguageModel(random_vlm, dtype="float32", device="cpu")
    reqs, settings = _requests(3), GenerationSettings(max_new_tokens=12)
    batched = vlm.generate(reqs, settings)
    single = [vlm.generate([r], settings)[0] for r in reqs]
    assert [g.text for g in batched] == [g.text for g in single]
    assert all(g.new_tokens == 12 and g.hit_limit for g in batched)


def test_answer_model_stops_at_eos(answer_vlm):
    vlm = VisionLanguageModel(answer_vlm)
    gens = vlm.generate(_requests(2), GenerationSettings(max_new_tokens=40))
    assert [g.text for g in gens] == ["a red square slides right."] * 2  # WordPiece lower-cases
    assert all(g.new_tokens == 7 and not g.hit_limit for g in gens)  # 6 tokens + EOS


def test_dtype_names():
    import torch

    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda:0") == torch.bfloat16
    with pytest.raises(ValueError):
        resolve_dtype("int3", "cpu")


def test_random_model_falls_back_with_reason(make_clip, random_vlm):
    stage = VLMCaptionStage(model=random_vlm, max_new_tokens=10, device="cpu", resources={"batch_size": 2})
    tasks = stage.process_batch([make_clip(clip_id="r1"), make_clip(clip_id="r2", duration_s=2.0)])
    assert stage.stats["generate_calls"] == 2  # one batch, one retry batch
    for t in tasks:
        cap = t.record.caption
        assert cap.source == "signals" and cap.degenerate_reason == "caption_degenerate"
        assert cap.model_id == random_vlm and cap.degenerate_detail


def test_wire_answer_needs_distinct_tokens(random_vlm, tmp_path):
    with pytest.raises(ValueError):
        wire_answer(random_vlm, "the cat and the dog.")
