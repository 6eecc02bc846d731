"""Token-budget batches, and CUDA out-of-memory recovery: halve, retry, fall back with a reason."""

import os

import pytest
import torch

from curate.captioning import VLMCaptionStage
from curate.captioning.batching import FittingGenerator, pack
from curate.captioning.cache import CaptionCache

GOOD = '{"summary": "A ball rolls.", "events": [{"start_s": 0.0, "end_s": 4.0, "text": "The ball rolls left."}]}'


def test_pack_by_padded_tokens():
    costs = [100, 400, 120, 90, 380, 110]
    batches = pack(costs, budget=1000, max_prompts=8, reserve=100)
    # sorted by length: 90, 100, 110, 120 fit as 4 x (120 + 100) = 880; 380 and 400 need 2 x 500
    assert [[costs[i] for i in b] for b in batches] == [[90, 100, 110, 120], [380, 400]]
    assert sorted(i for b in batches for i in b) == list(range(len(costs)))
    assert [len(b) for b in pack(costs, budget=10**6, max_prompts=4)] == [4, 2]
    assert pack([5000, 10], budget=1000, max_prompts=4) == [[1], [0]]  # over budget alone: its own batch
    with pytest.raises(ValueError):
        pack(costs, budget=0, max_prompts=1)


class OOMAbove:
    """Wraps a model; raises torch.cuda.OutOfMemoryError when a call has more than ``limit`` prompts,
    or when it holds a prompt with more than ``max_frames`` frames."""

    def __init__(self, inner, limit: int, max_frames: int = 10**6):
        self.inner, self.limit, self.max_frames = inner, limit, max_frames
        self.sizes: list[int] = []
        self.takes_video = False

    def count_tokens(self, request) -> int:
        return self.inner.count_tokens(request)

    def generate(self, requests, settings, schema=None):
        self.sizes.append(len(requests))
        if len(requests) > self.limit or any(len(r.images) > self.max_frames for r in requests):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return self.inner.generate(requests, settings, schema)


def test_fitting_generator_halves_and_remembers():
    calls = []

    def gen(reqs, *args):
        calls.append(len(reqs))
        if len(reqs) > 3:
            raise torch.cuda.OutOfMemoryError("out of memory")
        return [f"ok{r}" for r in reqs]

    fit = FittingGenerator(gen)
    assert fit(list(range(8))) == [f"ok{i}" for i in range(8)]
    assert calls == [8, 4, 2, 2, 2, 2]  # the second half of 8 already goes in the learned size
    assert fit.cap == 2 and fit.splits == 2 and fit.calls == 4
    calls.clear()
    fit(list(range(5)))
    assert calls == [2, 2, 1]  # the learned size is used at once
    with pytest.raises(ValueError):
        FittingGenerator(lambda r: (_ for _ in ()).throw(ValueError("not an OOM")))([1])


def test_stage_halves_batches_on_oom(make_clip, scripted):
    model_cls, with_model = scripted
    model = OOMAbove(model_cls([GOOD]), limit=2)
    stage = with_model(VLMCaptionStage(model="m", window_s=2.0, stride_s=2.0, resources={"batch_size": 8}), model)
    tasks = stage.process_batch([make_clip(clip_id=f"o{i}", duration_s=4.0) for i in range(4)])  # 8 windows
    assert model.sizes == [8, 4, 2, 2, 2, 2]
    assert stage.stats["oom_splits"] == 2 and stage.stats["failed"] == 0 and stage.stats["generate_calls"] == 4
    assert all(t.record.caption.source == "model" and t.reject_row is None for t in tasks)


def test_a_clip_that_never_fits_keeps_its_signal_caption(make_clip, scripted):
    model_cls, with_model = scripted
    model = OOMAbove(model_cls([GOOD]), limit=8, max_frames=4)
    stage = with_model(VLMCaptionStage(model="m", resources={"batch_size": 8}), model)
    small, big = make_clip(clip_id="small", n_frames=4), make_clip(clip_id="big", n_frames=12)
    stage.process_batch([small, big])
    assert small.record.caption.source == "model"
    cap = big.record.caption
    assert big.reject_row is None  # never dropped from the dataset
    assert cap.source == "signals" and cap.text == cap.signals
    assert cap.degenerate_reason == "caption_failed" and cap.degenerate_detail == "cuda_oom"
    assert stage.stats["failed"] == 1
    cache = CaptionCache(big.work_dir, stage.cache_settings())
    assert os.path.exists(cache.path("small")) and not os.path.exists(cache.path("big"))  # retried next run
