"""The vLLM engine without vLLM: engine selection, its inputs and sampling; running it needs vLLM."""

import importlib.util

import numpy as np
import pytest

from curate.captioning import VLMCaptionStage
from curate.captioning.answers import ANSWER_SCHEMA
from curate.captioning.generation import GenerationSettings
from curate.captioning.model import Request
from curate.captioning.prompts import Hints, build_prompt
from curate.captioning.vllm_engine import INSTALL_HINT, sampling_params, vllm_input
from curate.captioning.windows import Window

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _request(video: bool) -> Request:
    times = [1.0, 1.5, 2.0, 2.5]
    p = build_prompt(times, Hints(()), Window(0.0, 4.0), 4.0, "v2", video=video)
    frames = np.random.default_rng(0).integers(0, 256, (4, 56, 84, 3), dtype=np.uint8)
    return Request(list(frames), p.messages, video=p.video, fps=p.fps, offset_s=p.offset_s)


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed here: the missing-package error cannot happen")
def test_vllm_engine_without_vllm_names_the_extra(pipeline_with_vlm):
    p = pipeline_with_vlm("/models/tiny", engine="vllm")  # the pipeline file validates without vLLM
    stage = p.stage("vlm_caption")
    assert stage.engine == "vllm"
    from curate.captioning.check import ModelUnavailable

    with pytest.raises(ModelUnavailable, match=r"vidcurate\[vllm\]"):  # exit 2 with this line, at load
        stage.setup()
    with pytest.raises(ModelUnavailable, match=r"vLLM is not installed"):  # and before any work, locally
        stage.preflight()
    assert "vidcurate[vllm]" in INSTALL_HINT


def test_engine_is_part_of_the_cache_key():
    a = VLMCaptionStage(model="m").cache_settings()
    b = VLMCaptionStage(model="m", engine="vllm").cache_settings()
    assert a["engine"] == "transformers" and a != b


def test_vllm_inputs_carry_the_same_prompt_and_video_metadata(random_vlm):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(random_vlm)
    video = vllm_input(processor, _request(True))
    assert video["prompt"].count("<|video_pad|>") == 1 and "<|image_pad|>" not in video["prompt"]
    assert "Frame times in seconds from the start of the video: 0.00, 0.50, 1.00, 1.50" in video["prompt"]
    frames, meta = video["multi_modal_data"]["video"][0]
    assert frames.shape == (4, 56, 84, 3) and frames.dtype == np.uint8
    assert meta["fps"] == 2.0 and meta["frames_indices"] == [0, 1, 2, 3]
    assert video["mm_processor_kwargs"] == {"do_sample_frames": False}
    images = vllm_input(processor, _request(False))
    assert images["prompt"].count("<|image_pad|>") == 4 and len(images["multi_modal_data"]["image"]) == 4


def test_sampling_params_with_a_stand_in_module():
    class SP:
        class StructuredOutputsParams:
            def __init__(self, json):
                self.json = json

    class FakeVLLM:
        sampling_params = SP

        @staticmethod
        def SamplingParams(**kw):
            return kw

    kw = sampling_params(FakeVLLM, GenerationSettings(max_new_tokens=32).retry(), ANSWER_SCHEMA)
    assert kw["structured_outputs"].json is ANSWER_SCHEMA and kw["temperature"] == 0.7 and kw["max_tokens"] == 48
    assert "structured_outputs" not in sampling_params(FakeVLLM, GenerationSettings(), None)


@pytest.mark.skipif(not HAS_VLLM, reason="needs the vllm package (the vllm extra) and a GPU; see bench/gpu_check.sh")
def test_vllm_engine_generates(random_vlm):
    from curate.captioning.vllm_engine import VLLMEngine

    engine = VLLMEngine(random_vlm, max_model_len=4096)
    gens = engine.generate([_request(True)], GenerationSettings(max_new_tokens=8))
    assert len(gens) == 1 and gens[0].new_tokens > 0
