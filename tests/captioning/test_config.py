"""The stage in pipeline files: validation, order, and the caption variant of ``<key>.txt``."""

import pytest

from curate.shards import caption_text
from pipelines.config import PipelineError, load_pipeline, parse_pipeline
from schemas import Caption, CaptionEvent
from support.pipelines import ROOT, local_dict


def test_vlm_stage_validates_in_a_pipeline(pipeline_with_vlm):
    p = pipeline_with_vlm("/models/tiny", window_s=4.0, stride_s=3.0, txt="short")
    assert [s.name for s in p.post_stages()] == ["caption", "vlm_caption"]
    assert p.caption_variant() == "short"
    assert p.stage("vlm_caption").uses_model


@pytest.mark.parametrize("bad,match", [
    ({"stride_s": 5.0, "window_s": 4.0}, "stride_s"),
    ({"txt": "medium"}, "txt"),
    ({"max_new_tokens": 2}, "max_new_tokens"),
    ({"prompt_version": "v9"}, "prompt_version"),
    ({"engine": "tgi"}, "engine"),
    ({"max_batch_tokens": 10}, "max_batch_tokens"),
    ({"video": "always"}, "video"),
    ({"seed": -1}, "seed"),
    ({"seed": 2**63 - 1}, "seed"),  # the retry seeds with seed + 1, which no signed 64-bit integer holds
])
def test_bad_settings_name_the_key(pipeline_with_vlm, bad, match):
    with pytest.raises(PipelineError, match=match):
        pipeline_with_vlm("/models/tiny", **bad)


def test_vlm_caption_runs_after_dedup_and_after_signals():
    data = local_dict()
    names = [s["stage"] for s in data["stages"]]
    before_dedup = dict(data, stages=data["stages"][:names.index("dedup")] + [{"stage": "vlm_caption", "model": "m"}]
                        + data["stages"][names.index("dedup"):])
    with pytest.raises(PipelineError, match="cannot run before dedup"):
        parse_pipeline(before_dedup)
    at = names.index("caption")
    swapped = dict(data, stages=data["stages"][:at] + [{"stage": "vlm_caption", "model": "m"}] + data["stages"][at:])
    with pytest.raises(PipelineError, match="before vlm_caption"):
        parse_pipeline(swapped)


def test_gpu_pipeline_file_is_valid():
    p = load_pipeline(f"{ROOT}/pipelines/gpu.yaml")
    vlm = p.stage("vlm_caption")
    assert vlm.resources.gpus >= 1 and "/" in vlm.model
    assert p.stage("caption") is not None


def _record_caption(cap):
    class Rec:
        caption = cap
    return Rec()


def test_caption_text_variants():
    cap = Caption(text="Long one. Two.", source="model", short="Short one.", long="Long one. Two.",
                  signals="0.0-2.0 s: static camera, low motion",
                  events=[CaptionEvent(start_s=0.0, end_s=1.0, text="Long one."),
                          CaptionEvent(start_s=1.0, end_s=2.0, text="Two.")])
    rec = _record_caption(cap)
    assert caption_text(rec) == "Long one. Two."
    assert caption_text(rec, "short") == "Short one."
    assert caption_text(rec, "long") == "Long one. Two."
    assert caption_text(rec, "events") == "0.0-1.0 s: Long one. 1.0-2.0 s: Two."
    assert caption_text(rec, "signals") == "0.0-2.0 s: static camera, low motion"
    fallback = _record_caption(Caption(text="0.0-2.0 s: static camera", signals="0.0-2.0 s: static camera",
                                       degenerate_reason="caption_degenerate"))
    assert caption_text(fallback, "short") == caption_text(fallback, "events") == "0.0-2.0 s: static camera"
    assert caption_text(_record_caption(None), "long") == ""


def test_signal_thresholds_of_the_pipeline_are_in_the_cache_key():
    import copy

    from tests.captioning.conftest import vlm_pipeline  # noqa: F401 - the same pipeline as the fixture

    def key(min_segment_s):
        p = vlm_pipeline("/models/tiny")
        data = copy.deepcopy(p.model_dump(mode="json"))
        data["stages"][[s["stage"] for s in data["stages"]].index("caption")]["min_segment_s"] = min_segment_s
        return parse_pipeline(data, "k").stage("vlm_caption").cache_settings()["signals"]

    assert key(0.5)["min_segment_s"] == 0.5 and key(5.0)["min_segment_s"] == 5.0


def test_frame_sample_of_the_pipeline_is_in_the_cache_key():
    """More sample frames give the prompts other images: a new key, so clips are captioned
    again instead of served the captions of the old sample."""
    import copy

    from tests.captioning.conftest import vlm_pipeline  # noqa: F401 - the same pipeline as the fixture

    def settings(sample_frames):
        p = vlm_pipeline("/models/tiny")
        data = copy.deepcopy(p.model_dump(mode="json"))
        data["stages"][[s["stage"] for s in data["stages"]].index("extract")]["sample_frames"] = sample_frames
        return parse_pipeline(data, "k").stage("vlm_caption").cache_settings()

    eight, sixteen = settings(8), settings(16)
    assert eight["frame_sample"] == {"sample_frames": 8, "sample_short_side": 224}
    assert sixteen["frame_sample"]["sample_frames"] == 16
    from curate.captioning.cache import settings_key

    assert settings_key(eight) != settings_key(sixteen)


def test_a_bare_yaml_off_is_off(pipeline_with_vlm):
    """YAML 1.1 reads ``video: off`` as false; it had been refused as no 'auto' or 'off'."""
    assert pipeline_with_vlm("/models/tiny", video=False).stage("vlm_caption").video == "off"
