"""The caption stage with a scripted model: retry, fallback, batching, errors, cache."""

import json
import os

from curate.captioning import VLMCaptionStage
from curate.captioning.cache import CaptionCache

GOOD = "SUMMARY: A ball rolls left. EVENTS: 0.0-1.0 s: The ball starts rolling. 1.0-3.0 s: It rolls out of view."


def _stage(model, **kw):
    kw.setdefault("window_s", 10.0)
    kw.setdefault("stride_s", 8.0)
    return VLMCaptionStage(model="scripted-vlm", **kw)


def test_model_caption_fills_the_record(make_clip, scripted):
    model_cls, with_model = scripted
    task = with_model(_stage(None), model_cls(["The video shows " + GOOD]))(make_clip())
    cap = task.record.caption
    assert task.reject_row is None
    assert cap.source == "model" and cap.model_id == "scripted-vlm" and cap.prompt_version == "v2"
    assert cap.short == "A ball rolls left."
    assert cap.long == cap.text == "The ball starts rolling. It rolls out of view."
    assert [(e.start_s, e.end_s) for e in cap.events] == [(0.0, 1.0), (1.0, 3.0)]
    assert cap.signals and cap.signals.startswith("0.0-3.0 s:")  # signals computed inside when missing
    assert json.loads(cap.generation)["do_sample"] is False
    assert cap.degenerate_reason is None


def test_degenerate_answer_is_retried_once_with_other_settings(make_clip, scripted):
    model_cls, with_model = scripted
    model = model_cls(["a ball a ball a ball a ball a ball", GOOD])
    task = with_model(_stage(None), model)(make_clip())
    assert len(model.calls) == 2
    first, second = model.calls[0][1], model.calls[1][1]
    assert not first.do_sample and second.do_sample and second.repetition_penalty > first.repetition_penalty
    assert task.record.caption.source == "model"
    assert json.loads(task.record.caption.generation)["do_sample"] is True


def test_still_degenerate_falls_back_to_signals(make_clip, scripted):
    model_cls, with_model = scripted
    model = model_cls(["", "A ball rolls and then"])
    task = with_model(_stage(None), model)(make_clip(pan_x=0.2))
    cap = task.record.caption
    assert len(model.calls) == 2  # one retry, no more
    assert task.reject_row is None
    assert cap.source == "signals" and cap.text == cap.signals and "pans" in cap.text
    assert cap.degenerate_reason == "caption_degenerate" and cap.degenerate_detail == "no_events"
    assert cap.model_id == "scripted-vlm" and cap.short is None
    # The signal caption's timed events stay: timed events are in one place whatever the captioner.
    assert cap.events and cap.events[0].start_s == 0.0 and "pans" in cap.events[0].text
    assert cap.events[-1].end_s == task.record.clip.duration_s


def test_batches_group_windows_of_several_clips(make_clip, scripted):
    model_cls, with_model = scripted
    model = model_cls([GOOD])
    stage = with_model(_stage(None, window_s=2.0, stride_s=2.0, resources={"batch_size": 3}), model)
    tasks = [make_clip(clip_id=f"c{i}", duration_s=4.0) for i in range(3)]  # 2 windows each
    out = stage.process_batch(tasks)
    assert [len(call) for call, _ in model.calls] == [3, 3]
    assert all(t.record.caption.source == "model" and t.timings["vlm_caption"] > 0 for t in out)


def test_a_broken_clip_is_rejected_alone(make_clip, scripted):
    model_cls, with_model = scripted
    model = model_cls([GOOD])
    stage = with_model(_stage(None, resources={"batch_size": 4}), model)
    good, broken = make_clip(clip_id="good"), make_clip(clip_id="broken")
    os.remove(os.path.join(broken.work_dir, "clips", "broken.frames.npz"))
    stage.process_batch([good, broken])
    assert good.reject_row is None and good.record.caption.source == "model"
    assert broken.reject_row.stage == "vlm_caption" and broken.reject_row.reason == "stage_error"


def test_cache_prevents_a_second_generation(make_clip, scripted):
    model_cls, with_model = scripted
    model = model_cls([GOOD])
    stage = with_model(_stage(None), model)
    first = stage(make_clip(clip_id="same"))
    assert len(model.calls) == 1
    cached = CaptionCache(first.work_dir, stage.cache_settings())
    assert os.path.exists(cached.path("same"))
    again = with_model(_stage(None), model)(make_clip(clip_id="same"))  # a new worker, same settings
    assert len(model.calls) == 1
    assert again.record.caption == first.record.caption
    other = with_model(_stage(None, max_new_tokens=64), model)(make_clip(clip_id="same"))
    assert len(model.calls) == 2 and other.record.caption.source == "model"  # other settings: new entry


def test_cached_fallback_is_not_retried(make_clip, scripted):
    model_cls, with_model = scripted
    model = model_cls([""])
    stage = with_model(_stage(None), model)
    stage(make_clip(clip_id="bad"))
    stage(make_clip(clip_id="bad"))
    assert len(model.calls) == 2  # first attempt + retry, once


def test_new_weights_in_the_same_folder_are_a_cache_miss(tmp_path, make_clip, scripted):
    model_cls, with_model = scripted
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "qwen2_5_vl"}')
    (folder / "model.safetensors").write_bytes(b"old weights")
    model = model_cls([GOOD])
    with_model(VLMCaptionStage(model=str(folder)), model)(make_clip(clip_id="same"))
    with_model(VLMCaptionStage(model=str(folder)), model)(make_clip(clip_id="same"))
    assert len(model.calls) == 1  # same files: served from the cache
    (folder / "model.safetensors").write_bytes(b"new weights")  # same size, fine-tuned in place
    os.utime(folder / "model.safetensors", ns=(1, 10**18))
    with_model(VLMCaptionStage(model=str(folder)), model)(make_clip(clip_id="same"))
    assert len(model.calls) == 2


def test_other_signal_hints_are_a_cache_miss(make_clip, scripted):
    from curate.caption import CaptionStage

    model_cls, with_model = scripted
    model = model_cls([GOOD])
    prompts = []
    for pan_threshold in (0.04, 0.04, 0.5):  # the same hints twice, then a static camera
        task = CaptionStage(pan_threshold=pan_threshold).process(make_clip(clip_id="same", pan_x=0.1))
        with_model(_stage(None), model).process_batch([task])
        prompts.append(model.calls[-1][0][0].messages if model.calls else None)
    assert len(model.calls) == 2
    text = " ".join(c["text"] for c in prompts[-1][0]["content"] if c["type"] == "text")
    assert "camera 0.0-3.0 s: static camera" in text


def test_an_answer_in_chinese_falls_back_as_wrong_language(make_clip, scripted):
    model_cls, with_model = scripted
    answer = '{"summary": "一个男人在挥手。", "events": [{"start_s": 0, "end_s": 2, "text": "一个男人举起右手挥了挥。"}]}'
    task = with_model(_stage(None), model_cls([answer]))(make_clip())
    cap = task.record.caption
    assert cap.source == "signals" and cap.degenerate_detail == "wrong_language"
