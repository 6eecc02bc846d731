"""Can the caption model be loaded here? Checks made before any work, and the error a failed load raises.

A VLM caption stage runs after every source is split and encoded. A model folder that is
missing, half-written or of another kind of model had surfaced only then, as an
"internal error" with hundreds of lines of Ray tracebacks from the dead actors, after
all the per-source work. :func:`check_model` looks at what a load needs without keeping
the weights (about a second: transformers' config classes; a saved folder's weights are
read once to check they fit its config), so a run on this machine
stops before it starts (:meth:`curate.captioning.stage.VLMCaptionStage.preflight`), and
:class:`ModelUnavailable` is what a failed load raises wherever it happens, so the
command ends with exit code 2 and one line (:mod:`pipelines.exits`).

Checked, for a saved folder (``save_pretrained`` of the model and its processor): the
folder exists and holds ``config.json`` of a vision-language (image-text-to-text) model
type, weights (``*.safetensors``, whose headers must fit in their files, or
``pytorch_model*.bin``), processor files and tokenizer files (``tokenizer_config.json``
and a vocabulary: without them the processor loads a tokenizer that lacks the model's
special tokens, and every clip had failed); the weights must fit the config (transformers
loads them onto the ``meta`` device, so each is read once and none is kept: no weight
missing, none left over, no shape other than the config's; a ``config.json`` of another size had stopped
the run only when the actors loaded it, and layers the weights lack would have captioned
with random weights); its processor must load (tokenizer
included) and have a chat template (the prompts are chat messages: without one every clip
had failed after all the per-source work). For a hub id: that its config is in the local
Hugging Face cache, or, online, can be fetched from the hub (``config.json`` alone; with
``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` set, or when huggingface.co takes no
connection within 3 s, nothing is fetched: :mod:`curate.hub`), and names a
vision-language model. A CUDA ``device`` needs a visible GPU; ``attn:
flash_attention_2`` needs the ``flash_attn`` package and a CUDA device.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import logging
import os
import re

DEVICE = re.compile(r"auto|cpu|mps|cuda(?::\d+)?")
"""The ``device`` values a caption stage accepts."""

MARKER = "ModelUnavailable: "
"""How a :class:`ModelUnavailable` starts in a Ray error's text (an actor that failed to
start passes on only the text of its error), so the command can still tell it apart."""

_PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json", "video_preprocessor_config.json")
_VOCABULARY_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model")


class ModelUnavailable(RuntimeError):
    """The caption model cannot be loaded or run here (missing, damaged, not a
    vision-language model, or a CUDA device without a GPU): exit code 2."""


def looks_local(model: str) -> bool:
    """Whether ``model`` names a folder rather than a hub id (``org/name``): an existing
    folder (``models/tiny`` too), an absolute, ``./``, ``../`` or ``~`` path, or more than
    one ``/``."""
    return (os.path.isdir(os.path.expanduser(model)) or model.startswith(("/", ".", "~")) or model.count("/") > 1
            or os.sep != "/" and os.sep in model)


def _truthy(value: str | None) -> bool:
    """An environment switch as huggingface_hub reads it (``1``, ``true``, ``yes``, ``on``)."""
    return (value or "").strip().upper() in ("1", "ON", "YES", "TRUE")


def _weights(folder: str) -> str | None:
    """Why the weights of a saved folder cannot load (None when they look whole)."""
    safetensors = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.isfile(index):  # a sharded model: every shard its index names must be there
        try:
            with open(index, encoding="utf-8") as f:
                named = set(json.load(f)["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return f"model.safetensors.index.json cannot be read ({exc})"
        if missing := sorted(n for n in named if not os.path.isfile(os.path.join(folder, n))):
            return f"weight shards named by model.safetensors.index.json are missing: {', '.join(missing[:3])}"
    if not safetensors:
        return None if glob.glob(os.path.join(folder, "pytorch_model*.bin")) else "no weights (*.safetensors)"
    for path in safetensors:
        size = os.path.getsize(path)
        try:
            with open(path, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                if n <= 0 or 8 + n > size:
                    return f"{os.path.basename(path)} is cut short ({size} bytes)"
                header = json.loads(f.read(n))
        except (OSError, ValueError) as exc:
            return f"{os.path.basename(path)} cannot be read ({exc})"
        ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)
                and "data_offsets" in v]
        if 8 + n + max(ends, default=0) > size:
            return f"{os.path.basename(path)} is cut short ({size} bytes)"
    return None


def _vlm_types() -> set[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    return set(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES)


def _tokenizer(folder: str) -> str | None:
    """Why a saved folder's tokenizer cannot load as saved (None when its files are there)."""
    if not os.path.isfile(os.path.join(folder, "tokenizer_config.json")):
        return "no tokenizer_config.json"
    if not any(os.path.isfile(os.path.join(folder, f)) for f in _VOCABULARY_FILES) \
            and not glob.glob(os.path.join(folder, "*.tiktoken")):
        return f"no tokenizer vocabulary ({', '.join(_VOCABULARY_FILES[:3])}, ...)"
    return None


def _check_attn(where: str, device: str, attn: str) -> None:
    """``attn: flash_attention_2`` needs flash_attn and a CUDA device."""
    if attn != "flash_attention_2":
        return
    if importlib.util.find_spec("flash_attn") is None:
        raise ModelUnavailable(f"{where}: attn flash_attention_2 but the flash_attn package is not installed "
                               "here (pip install flash-attn on the GPU nodes), or use attn: auto")
    if device in ("cpu", "mps"):
        raise ModelUnavailable(f"{where}: attn flash_attention_2 needs a CUDA device, not {device!r}")
    import torch

    if not torch.cuda.is_available():
        raise ModelUnavailable(f"{where}: attn flash_attention_2 needs a CUDA GPU and none is visible here")


def _hub_config(where: str, model: str) -> str:
    """The local path of the hub id's ``config.json``: in the Hugging Face cache, or fetched
    when the hub takes a connection (:func:`curate.hub.hub_reachable`, at most 3 s). Raises
    :class:`ModelUnavailable` when neither gives it."""
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(model, "config.json")
    except Exception:  # noqa: BLE001 - a name no hub id can have: not cached
        cached = None
    if isinstance(cached, str):
        return cached
    if _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(os.environ.get("TRANSFORMERS_OFFLINE")):
        raise ModelUnavailable(f"{where}: not in the local Hugging Face cache, and the hub is offline "
                               "(HF_HUB_OFFLINE), nor a folder here")
    from curate.hub import hub_reachable

    if not hub_reachable():  # the hub client would retry for about 30 s before it says so
        raise ModelUnavailable(f"{where}: no such folder here, not in the local Hugging Face cache, and "
                               "huggingface.co cannot be reached from here to fetch its config")
    import huggingface_hub

    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)  # its "Retrying in 2s" lines: the one line below says it
    try:
        return huggingface_hub.hf_hub_download(model, "config.json")
    except Exception as exc:  # noqa: BLE001 - unreachable hub, no such repo, gated: said in one line
        text = str(exc).strip().splitlines()
        raise ModelUnavailable(f"{where}: no such folder here, not in the local Hugging Face cache, and its config "
                               f"cannot be fetched from the hub ({type(exc).__name__}: {text[0] if text else ''})"
                               ) from exc
    finally:
        hub_log.setLevel(level)


def check_model(model: str, device: str = "auto", attn: str = "auto", fit: bool = True) -> None:
    """Check that the transformers engine could load ``model`` on ``device`` with ``attn``
    here (module docstring); a hub id's ``config.json`` may be fetched. ``fit``: check that a
    saved folder's weights fit its config through transformers (off for vLLM, which loads
    kinds of model and quantised weights that transformers does not; a folder whose config
    has a ``quantization_config`` is not checked either). Raises :class:`ModelUnavailable`
    saying what is wrong."""
    where = f"caption model {model!r}"
    if device.startswith("cuda") or device == "mps":
        import torch

        if device == "mps" and not torch.backends.mps.is_available():
            raise ModelUnavailable(f"{where}: device 'mps' but this machine has no Apple GPU (Metal)")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelUnavailable(f"{where}: device {device!r} but no CUDA GPU is visible here")
    _check_attn(where, device, attn)
    folder = os.path.expanduser(model)
    if os.path.isdir(folder):
        if not os.path.isfile(os.path.join(folder, "config.json")):
            raise ModelUnavailable(f"{where}: no config.json (a folder saved with save_pretrained?)")
        if (why := _weights(folder)) is not None:
            raise ModelUnavailable(f"{where}: {why}")
        if not any(os.path.isfile(os.path.join(folder, f)) for f in _PROCESSOR_FILES):
            raise ModelUnavailable(f"{where}: no processor files ({', '.join(_PROCESSOR_FILES[:2])}; "
                                   "save the processor into the folder too)")
        if (why := _tokenizer(folder)) is not None:
            raise ModelUnavailable(f"{where}: {why} (save the processor, tokenizer included, into the folder)")
    elif os.path.exists(folder):
        raise ModelUnavailable(f"{where}: a file, not a folder (one saved with save_pretrained)")
    elif looks_local(model):
        raise ModelUnavailable(f"{where}: no such folder")
    else:  # a hub id (or a mistyped relative folder, which reads the same)
        folder = os.path.dirname(_hub_config(where, model))
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelUnavailable(f"{where}: its config cannot be read ({type(exc).__name__}: "
                               f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})") from exc
    kind = getattr(config, "model_type", "")
    if kind not in _vlm_types():
        raise ModelUnavailable(f"{where}: a {kind or 'unknown'} model, not a vision-language (image-text-to-text) model")
    if os.path.isdir(os.path.expanduser(model)):
        if fit and not getattr(config, "quantization_config", None):
            _check_fit(where, folder)
        _check_processor(where, folder)


def _check_fit(where: str, folder: str) -> None:
    """Load the saved folder's model onto the ``meta`` device and check its safetensors fit
    the config: the same tensor names and shapes, after the renames transformers itself
    applies when it loads. transformers 5 reads each tensor once before it moves it to
    ``meta`` (a review: the disk reads of a load, about a load's time, none of its memory);
    its own name and shape rules are what the actors meet, so nothing they load is refused
    here (a check of the headers alone would have to copy them)."""
    if not glob.glob(os.path.join(folder, "*.safetensors")):
        return  # pytorch_model*.bin: only a full read would tell
    from transformers import AutoModelForImageTextToText
    from transformers.utils import logging as hf_logging

    from curate.captioning.model import NO_HUB_KERNELS

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # its load report table: the one line below says it
    hf_logging.disable_progress_bar()  # its "Loading weights" bar (a review)
    try:
        _, info = AutoModelForImageTextToText.from_pretrained(
            folder, device_map="meta", output_loading_info=True, ignore_mismatched_sizes=True, **NO_HUB_KERNELS)
    except Exception as exc:  # noqa: BLE001 - whatever the loader raises, the actors would raise it too
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelUnavailable(f"{where}: its weights do not load ({type(exc).__name__}: {first[:200]})") from exc
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
    if info.get("mismatched_keys"):
        name, saved, wanted = sorted(info["mismatched_keys"])[0]
        raise ModelUnavailable(f"{where}: its weights do not fit config.json: {len(info['mismatched_keys'])} of "
                               f"another shape, e.g. {name} {tuple(saved)} where the config makes {tuple(wanted)}")
    for kind, what in (("missing_keys", "the config names weights the folder lacks"),
                       ("unexpected_keys", "the folder holds weights the config has no place for")):
        if keys := sorted(info.get(kind) or ()):
            raise ModelUnavailable(f"{where}: its weights do not fit config.json: {what} ({len(keys)}, "
                                   f"e.g. {keys[0]})")


def _check_processor(where: str, folder: str) -> None:
    """Load a saved folder's processor (tokenizer included; a second or two, no weights)
    and check it has a chat template. A tokenizer.json that is no JSON had passed the file
    checks and stopped the run only when the actors loaded it, and a folder without a chat
    template failed every kept clip, both after all the per-source work (a break test); a
    template kept only in ``tokenizer_config.json`` is not the processor's."""
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(folder)
    except Exception as exc:  # noqa: BLE001 - whatever the processor's loader raises, the run cannot caption
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ModelUnavailable(f"{where}: its processor does not load ({type(exc).__name__}: {first[:200]})") from exc
    if not getattr(processor, "chat_template", None):  # the prompts are chat messages (model.py: apply_chat_template)
        raise ModelUnavailable(f"{where}: its processor has no chat template (save one with the processor: "
                               "chat_template.jinja); the prompts are chat messages")
