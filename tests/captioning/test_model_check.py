"""A caption model that cannot load stops the run before any work, with one line and exit code 2."""

import json
import os
import shutil
import time

import pytest
import yaml

from curate.captioning.check import MARKER, ModelUnavailable, check_model
from support.hub import hub_endpoint, listening, no_waiting  # noqa: F401
from support.s3 import free_port
from pipelines import exits
from pipelines.cli import main


def test_a_saved_tiny_vlm_passes_in_silence(random_vlm, capfd):
    check_model(random_vlm, "cpu")
    assert capfd.readouterr().err == ""  # a review: transformers' "Loading weights" bar had shown


def _copy(src: str, dst) -> str:
    out = str(dst / "model")
    shutil.copytree(src, out)
    return out


@pytest.mark.parametrize("damage,said", [
    ("missing", "no such folder"),
    ("no_config", "no config.json"),
    ("truncated", "is cut short"),
    ("no_weights", "no weights"),
    ("no_processor", "no processor files"),
    ("no_tokenizer", "no tokenizer_config.json"),
    ("text_only", "a qwen2 model, not a vision-language"),
    ("no_chat_template", "no chat template"),  # a break test: it passed, then every clip failed
    ("template_in_tokenizer_only", "no chat template"),  # the processor does not take it from there
    ("tokenizer_not_json", "its processor does not load"),  # ... and this stopped the run after the sources
])
def test_what_keeps_a_model_from_loading_is_said(random_vlm, tmp_path, damage, said):
    folder = _copy(random_vlm, tmp_path)
    weights = os.path.join(folder, "model.safetensors")
    if damage == "missing":
        folder = str(tmp_path / "nowhere")
    elif damage == "no_config":
        os.remove(os.path.join(folder, "config.json"))
    elif damage == "truncated":
        with open(weights, "r+b") as f:
            f.truncate(os.path.getsize(weights) // 2)
    elif damage == "no_weights":
        os.remove(weights)
    elif damage == "no_processor":
        for name in os.listdir(folder):
            if "processor" in name:
                os.remove(os.path.join(folder, name))
    elif damage == "no_tokenizer":
        for name in ("tokenizer.json", "tokenizer_config.json"):
            os.remove(os.path.join(folder, name))
    elif damage == "no_chat_template":
        os.remove(os.path.join(folder, "chat_template.jinja"))
    elif damage == "template_in_tokenizer_only":
        path = os.path.join(folder, "chat_template.jinja")
        with open(path) as f:
            template = f.read()
        os.remove(path)
        conf = os.path.join(folder, "tokenizer_config.json")
        with open(conf) as f:
            data = json.load(f)
        with open(conf, "w") as f:
            json.dump({**data, "chat_template": template}, f)
    elif damage == "tokenizer_not_json":
        with open(os.path.join(folder, "tokenizer.json"), "w") as f:
            f.write("not json")
    else:
        from transformers import Qwen2Config

        Qwen2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                    intermediate_size=64, vocab_size=100).save_pretrained(folder)
    with pytest.raises(ModelUnavailable, match=said):
        check_model(folder, "cpu")


def test_a_hub_id_offline_and_not_cached_is_said(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelUnavailable, match="not in the local Hugging Face cache"):
        check_model("nobody/no-such-vlm", "cpu")


def test_cuda_without_a_gpu_is_said():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(ModelUnavailable, match="no CUDA GPU"):
        check_model("nobody/no-such-vlm", "cuda:0")


def test_a_bad_device_is_a_pipeline_error(pipeline_with_vlm):
    with pytest.raises(Exception, match="device 'banana'"):
        pipeline_with_vlm("/models/tiny", device="banana")


def test_a_ray_error_carrying_the_failed_load_is_read():
    text = ("The actor died because of an error raised in its creation task, ray::_ActorStage.__init__() "
            f"(pid=1)\n  File ...\n{MARKER}caption model '/m' cannot be loaded on cpu: OSError: no file\nmore")
    assert exits.model_problem(RuntimeError(text)) == "caption model '/m' cannot be loaded on cpu: OSError: no file"
    assert exits.model_problem(RuntimeError("something else")) is None


def test_run_with_a_missing_model_stops_before_any_work(pipeline_with_vlm, tmp_path, capsys):
    pipeline = pipeline_with_vlm(str(tmp_path / "no-model"), device="cpu")
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(pipeline.model_dump(mode="json"), sort_keys=False))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mp4").write_bytes(b"\x00" * 64)
    code = main(["run", str(path), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == exits.USAGE
    assert err[-1] == f"error: caption model '{tmp_path / 'no-model'}': no such folder"
    assert not os.path.exists(tmp_path / "out" / "work" / "sources")  # no source was worked on


@pytest.mark.parametrize("edit,said", [
    ({"intermediate_size": 96}, r"6 of another shape, e\.g\. model\.language_model\.layers\.0\.mlp\.down_proj\.weight "
                                r"\(64, 128\) where the config makes \(64, 96\)"),
    ({"num_hidden_layers": 3}, r"the config names weights the folder lacks \(12, e\.g\. model\.language_model\.layers\.2\."),
    ({"num_hidden_layers": 1}, r"the folder holds weights the config has no place for \(12, e\.g\. "
                               r"model\.language_model\.layers\.1\."),
])
def test_a_config_that_does_not_fit_the_weights_is_said(random_vlm, tmp_path, edit, said):
    """A break test: a config.json of another size passed the checks and stopped the run
    only when the actors loaded the model; layers the weights lack would have been random."""
    folder = _copy(random_vlm, tmp_path)
    path = os.path.join(folder, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["text_config"].pop("layer_types", None)  # it must list one type per layer
    config["text_config"].update(edit)
    with open(path, "w") as f:
        json.dump(config, f)
    with pytest.raises(ModelUnavailable, match="its weights do not fit config.json: " + said):
        check_model(folder, "cpu")


@pytest.mark.parametrize("quantised", [False, True])
def test_the_fit_is_left_to_vllm_and_to_quantised_weights(random_vlm, tmp_path, quantised):
    """vLLM loads kinds and quantised weights that transformers does not: a transformers
    build of the config would refuse what vLLM loads (packed AWQ weights have other shapes)."""
    folder = _copy(random_vlm, tmp_path)
    path = os.path.join(folder, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["text_config"]["intermediate_size"] = 96
    if quantised:
        config["quantization_config"] = {"quant_method": "awq", "bits": 4, "group_size": 128}
    with open(path, "w") as f:
        json.dump(config, f)
    check_model(folder, "cpu", fit=quantised)


def test_a_saved_tiny_llava_passes(tmp_path):
    """Its weights are saved under the older key names, which transformers renames on load."""
    from curate.captioning.tiny import build_tiny_llava

    check_model(build_tiny_llava(str(tmp_path / "llava")), "cpu")


def test_a_sharded_model_missing_a_shard_or_a_file_for_a_folder_is_said(random_vlm, tmp_path):
    folder = _copy(random_vlm, tmp_path)
    (tmp_path / "model" / "model.safetensors.index.json").write_text(json.dumps(
        {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model.safetensors"}}))
    with pytest.raises(ModelUnavailable, match="model-00001-of-00002.safetensors"):
        check_model(folder, "cpu")
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ModelUnavailable, match="a file, not a folder"):
        check_model(str(afile), "cpu")


@pytest.mark.parametrize("value", ["false", "no", "off", "0", ""])
def test_hf_hub_offline_switched_off_is_online(monkeypatch, hub_endpoint, random_vlm, value):
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    fetched = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download",
                        lambda repo, name: fetched.append((repo, name)) or os.path.join(random_vlm, name))
    with listening() as port:
        hub_endpoint(port)
        check_model("nobody/no-such-vlm", "cpu")  # online: its config alone is fetched to check it
    assert fetched == [("nobody/no-such-vlm", "config.json")]


def test_a_hub_id_not_cached_whose_config_cannot_be_fetched_is_said(monkeypatch, hub_endpoint, tmp_path):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))

    def unreachable(repo, name):
        raise OSError("We couldn't connect to 'https://huggingface.co'\nmore")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    with listening() as port, pytest.raises(
            ModelUnavailable, match=r"models/tiny': no such folder here, not in the local Hugging Face cache, and "
                                    r"its config cannot be fetched from the hub \(OSError: We couldn't connect to "
                                    r"'https://huggingface.co'\)$"):
        hub_endpoint(port)
        check_model("models/tiny", "cpu")


def test_a_hub_id_not_cached_with_the_hub_out_of_reach_is_said_at_once(monkeypatch, hub_endpoint, tmp_path):
    """Offline, the hub client retried for about 30 s before the check could say it; now
    nothing is asked of it (a retry's sleep or a download fails the test)."""
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # not told it is offline: it finds out
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(time, "sleep", no_waiting)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: pytest.fail("asked the hub"))
    hub_endpoint(free_port())
    with pytest.raises(ModelUnavailable, match=r"'someone/tiny-vlm': no such folder here, not in the local Hugging "
                                               r"Face cache, and huggingface.co cannot be reached from here"):
        check_model("someone/tiny-vlm", "cpu")


def test_a_cached_hub_id_is_checked_and_loaded_with_the_hub_out_of_reach(monkeypatch, hub_endpoint, random_vlm,
                                                                         tmp_path):
    """A VLM in the hub cache's layout (``models--org--name/snapshots/<rev>``, ``refs/main``)
    passes the check and loads by its hub id without a request or a retry."""
    from huggingface_hub import constants

    from curate.captioning.model import VisionLanguageModel
    from curate.hub import model_path

    repo = tmp_path / "models--someone--tiny-vlm"
    revision = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(random_vlm, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(time, "sleep", no_waiting)
    hub_endpoint(free_port())
    check_model("someone/tiny-vlm", "cpu")
    assert model_path("someone/tiny-vlm") == str(repo / "snapshots" / revision)  # what vLLM is given
    vlm = VisionLanguageModel("someone/tiny-vlm", dtype="float32", device="cpu")
    assert vlm.model_type == "qwen2_5_vl" and vlm.model.config.vision_config.depth >= 1


def test_a_relative_folder_with_one_slash_is_local(random_vlm, tmp_path, monkeypatch):
    from curate.captioning import VLMCaptionStage
    from curate.captioning.check import looks_local

    shutil.copytree(random_vlm, tmp_path / "models" / "tiny")
    monkeypatch.chdir(tmp_path)
    assert looks_local("models/tiny") and not looks_local("models/other")
    check_model("models/tiny", "cpu")
    assert VLMCaptionStage(model="models/tiny").model == str(tmp_path / "models" / "tiny")  # as workers find it


def test_flash_attention_without_flash_attn_or_cuda_is_said(random_vlm, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "flash_attn" else real(name, *a))
    with pytest.raises(ModelUnavailable, match="flash_attn package is not installed"):
        check_model(random_vlm, "cpu", "flash_attention_2")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "flash_attn" else real(name, *a))
    with pytest.raises(ModelUnavailable, match="needs a CUDA device, not 'cpu'"):
        check_model(random_vlm, "cpu", "flash_attention_2")
    check_model(random_vlm, "cpu", "sdpa")


def test_mps_without_metal_is_said():
    import torch

    if torch.backends.mps.is_available():
        pytest.skip("Metal is here")
    with pytest.raises(ModelUnavailable, match="no Apple GPU"):
        check_model("nobody/no-such-vlm", "mps")
