"""Generation settings against Qwen2.5-VL's real generation defaults: retries really sample,
repetition controls never count the prompt, answers can be constrained to the JSON schema."""

import json

import pytest
import torch
from transformers import GenerationConfig
from transformers.generation.logits_process import NoRepeatNGramLogitsProcessor

from curate.captioning.answers import ANSWER_SCHEMA
from curate.captioning.generation import GeneratedOnly, GenerationSettings
from curate.captioning.model import VisionLanguageModel
from curate.captioning.prompts import Hints, build_messages
from curate.captioning.model import Request
from curate.captioning.windows import Window

# generation_config.json of Qwen/Qwen2.5-VL-7B-Instruct (the hub file cannot be fetched here:
# the values as published with the model, the same as Qwen2-VL-7B-Instruct's; eos/pad/bos
# ids are the tiny model's own instead of Qwen's 151645/151643).
QWEN25_VL_GENERATION = {"do_sample": True, "top_k": 1, "top_p": 0.001, "temperature": 0.1,
                        "repetition_penalty": 1.05}


@pytest.fixture(scope="module")
def qwen_defaults_model(random_vlm):
    vlm = VisionLanguageModel(random_vlm, dtype="float32", device="cpu")
    own = vlm.model.generation_config
    vlm.model.generation_config = GenerationConfig(**QWEN25_VL_GENERATION, eos_token_id=own.eos_token_id,
                                                   pad_token_id=own.pad_token_id, bos_token_id=own.bos_token_id)
    return vlm


def _request() -> Request:
    import numpy as np

    msgs = build_messages([0.5, 1.5], Hints(()), Window(0.0, 2.0), 2.0)
    return Request([np.full((56, 56, 3), v, np.uint8) for v in (40, 200)], msgs)


def test_retry_samples_despite_qwens_top_k_1(qwen_defaults_model):
    first = GenerationSettings(max_new_tokens=16)
    greedy = [qwen_defaults_model.generate([_request()], first)[0].text for _ in range(2)]
    assert greedy[0] == greedy[1]
    retry = first.retry()
    kw = retry.generate_kwargs()
    assert kw["do_sample"] and kw["top_k"] == 0 and kw["top_p"] == 0.9 and kw["temperature"] == 0.7
    texts = {qwen_defaults_model.generate([_request()], GenerationSettings(**{**json.loads(retry.to_json()),
                                                                              "seed": s}))[0].text
             for s in range(1, 4)}
    assert len(texts) == 3  # with the model's top_k=1 left in place every seed would decode greedily
    same_seed = {qwen_defaults_model.generate([_request()], retry)[0].text for _ in range(2)}
    assert len(same_seed) == 1  # the seed makes it repeatable


def test_builtin_repetition_controls_are_off():
    kw = GenerationSettings(no_repeat_ngram_size=4).retry().generate_kwargs()
    assert kw["repetition_penalty"] == 1.0 and kw["no_repeat_ngram_size"] == 0
    procs = GenerationSettings(no_repeat_ngram_size=4).logits_processors(prompt_len=7)
    assert [type(p.inner).__name__ for p in procs] == ["RepetitionPenaltyLogitsProcessor",
                                                        "NoRepeatNGramLogitsProcessor"]
    assert all(p.prompt_len == 7 for p in procs)


def test_ngram_ban_ignores_the_prompt():
    # prompt "5 6 7 5 6" asks for the label "5 6 7" again; generated so far: "5 6"
    ids = torch.tensor([[5, 6, 7, 9, 5, 6]])
    scores = torch.zeros(1, 12)
    plain = NoRepeatNGramLogitsProcessor(3)(ids, scores.clone())
    assert plain[0, 7] == -float("inf")  # transformers' own ban counts the prompt
    ours = GeneratedOnly(NoRepeatNGramLogitsProcessor(3), prompt_len=4)(ids, scores.clone())
    assert ours[0, 7] == 0  # generated tokens "5 6" alone never made "5 6 7"
    gen = torch.tensor([[1, 2, 5, 6, 7, 5, 6]])
    again = GeneratedOnly(NoRepeatNGramLogitsProcessor(3), prompt_len=2)(gen, scores.clone())
    assert again[0, 7] == -float("inf")  # a repeat inside the answer is still banned


def test_vllm_sampling_kwargs_mean_the_same():
    first = GenerationSettings(max_new_tokens=64, seed=3)
    assert first.sampling_kwargs() == {"max_tokens": 64, "seed": 3, "repetition_penalty": 1.05,
                                       "temperature": 0.0, "top_p": 1.0, "top_k": -1}
    retry = first.retry().sampling_kwargs()
    assert retry["temperature"] == 0.7 and retry["top_k"] == -1 and retry["seed"] == 4 and retry["max_tokens"] == 96


def test_constrained_answers_follow_the_schema(random_vlm):
    pytest.importorskip("lmformatenforcer", reason="lm-format-enforcer (the structured extra) is not installed")
    vlm = VisionLanguageModel(random_vlm, dtype="float32", device="cpu")
    settings = GenerationSettings(max_new_tokens=6)
    free = vlm.generate([_request(), _request()], settings)
    bound = vlm.generate([_request(), _request()], settings, schema=ANSWER_SCHEMA)
    assert not any(g.text.startswith("{") for g in free)  # a random model writes no JSON by itself
    for g in bound:
        assert g.text.startswith("{") and '"' in g.text, g.text
