"""The tiny offline VLM through the users' loader: batched generation, video input, tokens, settings."""

import math

import numpy as np
import pytest
import torch

from curate.captioning import VLMCaptionStage
from curate.captioning.model import GenerationSettings, Request, VisionLanguageModel, resolve_dtype
from curate.captioning.prompts import Hints, build_messages, build_prompt
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


def _video_request(n: int, fps: float = 2.0, offset: float = 4.0) -> Request:
    times = [offset + k / fps for k in range(n)]
    p = build_prompt(times, Hints(()), Window(offset, offset + n / fps), 20.0, "v2", video=True)
    frames = np.random.default_rng(n).integers(0, 256, (n, 64, 80, 3), dtype=np.uint8)
    return Request(list(frames), p.messages, video=p.video, fps=p.fps, offset_s=p.offset_s)


@pytest.fixture(scope="module")
def random_model(random_vlm):
    return VisionLanguageModel(random_vlm, dtype="float32", device="cpu")


def test_batched_generation_matches_one_at_a_time(random_model):
    reqs, settings = _requests(3), GenerationSettings(max_new_tokens=12)
    batched = random_model.generate(reqs, settings)
    single = [random_model.generate([r], settings)[0] for r in reqs]
    assert [g.text for g in batched] == [g.text for g in single]
    assert all(g.new_tokens == 12 and g.hit_limit for g in batched)


def test_loaded_onto_the_device_with_sdpa(random_model):
    assert random_model.device == "cpu" and random_model.attn == "sdpa"
    assert next(random_model.model.parameters()).device.type == "cpu"
    assert random_model.takes_video is True  # Qwen2.5-VL


def test_video_goes_in_with_its_fps_and_frame_times(random_model, monkeypatch):
    seen = []
    real = random_model.processor.__class__.__call__

    def spy(self, *args, **kwargs):
        seen.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(random_model.processor.__class__, "__call__", spy)
    reqs = [_video_request(5, fps=2.0), _video_request(4, fps=0.5)]
    batch = random_model.encode(reqs)
    kw = seen[-1]
    assert kw["do_sample_frames"] is False and "images" not in kw
    assert [m["fps"] for m in kw["video_metadata"]] == [2.0, 0.5]
    assert [m["frames_indices"] for m in kw["video_metadata"]] == [[0, 1, 2, 3, 4], [0, 1, 2, 3]]
    assert [len(v) for v in kw["videos"]] == [5, 4]
    # Qwen2.5-VL's temporal position step: temporal_patch_size (2 frames) / fps seconds per grid
    assert batch["second_per_grid_ts"].tolist() == [1.0, 4.0]
    assert batch["video_grid_thw"][:, 0].tolist() == [3, 2]  # ceil(frames / 2) temporal patches
    gens = random_model.generate(reqs, GenerationSettings(max_new_tokens=4))
    assert all(g.new_tokens == 4 for g in gens)


def test_token_count_is_exact(random_model):
    for req in [_video_request(5), _video_request(2)] + _requests(3):
        ids = random_model.encode([req])["input_ids"]
        assert random_model.count_tokens(req) == ids.shape[1]
    video, images = _video_request(6), _video_request(6)
    images.video = False
    images.messages = build_messages([4.0 + k / 2 for k in range(6)], Hints(()), Window(4, 7), 20.0)
    assert random_model.count_tokens(images) - random_model.count_tokens(video) > 0  # a video halves vision tokens


def test_answer_model_stops_at_eos(answer_vlm):
    from captioning.conftest import ANSWER

    vlm = VisionLanguageModel(answer_vlm)
    gens = vlm.generate(_requests(2), GenerationSettings(max_new_tokens=40))
    assert [g.text for g in gens] == [ANSWER] * 2
    n = len(vlm.processor.tokenizer(ANSWER, add_special_tokens=False)["input_ids"])
    assert all(g.new_tokens == n + 1 and not g.hit_limit for g in gens)  # answer tokens + EOS


def test_dtype_names():
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda:0") == torch.bfloat16
    with pytest.raises(ValueError):
        resolve_dtype("int3", "cpu")


def test_random_model_falls_back_with_reason(make_clip, random_vlm):
    stage = VLMCaptionStage(model=random_vlm, max_new_tokens=10, device="cpu", structured=False,
                            resources={"batch_size": 2})
    tasks = stage.process_batch([make_clip(clip_id="r1"), make_clip(clip_id="r2", duration_s=2.0)])
    assert stage.stats["generate_calls"] == 2  # one batch, one retry batch
    for t in tasks:
        cap = t.record.caption
        assert cap.source == "signals" and cap.degenerate_reason == "caption_degenerate"
        assert cap.model_id == random_vlm and cap.degenerate_detail == "cut_off"  # 10 tokens, no EOS


def test_wire_answer_needs_distinct_tokens(random_vlm, tmp_path):
    with pytest.raises(ValueError):
        wire_answer(random_vlm, "the cat and the dog.")


def test_qwen_vision_token_formula():
    from curate.captioning.model import qwen_vision_tokens

    # 336 x 448 frames: 24 x 32 patches of 14 px, merged 2x2 -> 192 tokens per temporal patch
    assert qwen_vision_tokens(16, 336, 448, video=True) == 8 * 192
    assert qwen_vision_tokens(16, 336, 448, video=False) == 16 * 192
    assert qwen_vision_tokens(5, 336, 448, video=True) == math.ceil(5 / 2) * 192


@pytest.fixture(scope="module")
def llava_model(tmp_path_factory):
    from curate.captioning.tiny import build_tiny_llava

    return VisionLanguageModel(build_tiny_llava(str(tmp_path_factory.mktemp("llava"))), dtype="float32", device="cpu")


def test_a_model_outside_qwen_sees_frames_through_its_own_processor(llava_model):
    """A break test: Qwen's pixel-count limits went to every processor, and LLaVA's CLIP
    processor read them as a 3136 px short side, then cropped its 56 px centre: a flat 2 %
    of each frame, 40 times slower. A gradient frame now reaches the model as the
    processor alone makes it (its whole range)."""
    h, w = 224, 398
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, w)[None, :].astype(np.uint8)
    img[..., 1] = np.linspace(0, 255, h)[:, None].astype(np.uint8)
    p = build_prompt([0.5], Hints(()), Window(0.0, 3.0), 3.0, "v2", video=False)
    req = Request([img], p.messages)
    assert llava_model.takes_video is False and llava_model.image_kwargs() == {}
    got = llava_model.encode([req])["pixel_values"][0]
    own = llava_model.processor(text=[llava_model.chat_text(req)], images=[[img]], return_tensors="pt")["pixel_values"][0]
    assert torch.equal(got, own)
    assert float(got[1].max() - got[1].min()) > 3.0  # the frame's top-to-bottom gradient, not a flat patch
    assert llava_model.count_tokens(req) == llava_model.encode([req])["input_ids"].shape[1]
    gens = llava_model.generate([req, req], GenerationSettings(max_new_tokens=5))
    assert all(g.new_tokens == 5 for g in gens)
