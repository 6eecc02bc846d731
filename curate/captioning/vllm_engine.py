"""The vLLM engine: the same prompts, settings and answer reader, served with continuous batching.

``engine: vllm`` in a ``vlm_caption`` stage runs generation through vLLM's offline
``LLM.generate`` (PagedAttention KV cache, continuous batching of all prompts handed
in, structured outputs) instead of transformers ``generate``. Everything around it is
shared with the transformers engine: the chat text comes from the model's own Hugging
Face processor (:meth:`VLLMEngine.chat_text`), frames go in as one video with its
metadata (``do_sample_frames=False``) for the Qwen-VL family or as images otherwise,
answers are constrained to :data:`~curate.captioning.answers.ANSWER_SCHEMA` through
vLLM's structured outputs and read by :mod:`curate.captioning.answers`.

vLLM pins its own torch build, so it is not a dependency of vidcurate: install the
``vllm`` extra (``pip install 'vidcurate[vllm]'``) in a GPU image built for it. It is
imported only when this engine is created; without it, :class:`VLLMEngine` raises
ImportError naming the extra.
"""

from __future__ import annotations

import numpy as np

from curate.captioning.generation import Generation, GenerationSettings
from curate.captioning.model import VIDEO_MODELS, Request, count_tokens

INSTALL_HINT = ("engine: vllm needs the vllm package (pip install 'vidcurate[vllm]'); it pins its own torch, "
                "so install it in a GPU image made for it, or use engine: transformers")


def import_vllm():
    """The ``vllm`` module. Raises ImportError with :data:`INSTALL_HINT` when it is not installed."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return vllm


def vllm_input(processor, request: Request) -> dict:
    """One prompt in vLLM's offline input form: ``{"prompt", "multi_modal_data", "mm_processor_kwargs"}``.

    A video request passes ``(frames (T, H, W, 3) uint8, metadata)`` with the metadata of
    :meth:`Request.video_metadata` and ``do_sample_frames=False``; an image request passes
    the list of ``(H, W, 3) uint8`` frames.
    """
    prompt = processor.apply_chat_template(request.messages, add_generation_prompt=True, tokenize=False)
    if request.video:
        data = {"video": [(np.stack(request.images), request.video_metadata())]}
        return {"prompt": prompt, "multi_modal_data": data, "mm_processor_kwargs": {"do_sample_frames": False}}
    return {"prompt": prompt, "multi_modal_data": {"image": list(request.images)}}


def sampling_params(vllm, settings: GenerationSettings, schema: dict | None):
    """``vllm.SamplingParams`` for ``settings``, with JSON-schema structured output when ``schema``
    is given (``structured_outputs`` in vLLM >= 0.10.2, ``guided_decoding`` before)."""
    kw = settings.sampling_kwargs()
    if schema is not None:
        sp = vllm.sampling_params
        if hasattr(sp, "StructuredOutputsParams"):
            kw["structured_outputs"] = sp.StructuredOutputsParams(json=schema)
        else:
            kw["guided_decoding"] = sp.GuidedDecodingParams(json=schema)
    return vllm.SamplingParams(**kw)


class VLLMEngine:
    """A vLLM-served VLM with the interface of :class:`~curate.captioning.model.VisionLanguageModel`.

    ``max_model_len``: tokens per sequence (prompt + answer); ``gpu_memory_utilization``:
    the share of GPU memory vLLM may take (weights + KV cache); ``max_frames``: the most
    images one prompt may hold. Raises ImportError when vLLM is missing.
    """

    engine = "vllm"

    def __init__(self, model_id: str, dtype: str = "auto", max_model_len: int = 32768,
                 gpu_memory_utilization: float = 0.9, max_frames: int = 64):
        self._vllm = import_vllm()
        from transformers import AutoConfig, AutoProcessor

        from curate.hub import model_path

        self.model_id = model_id
        self.device = "cuda"
        folder = model_path(model_id)  # a hub id's cached snapshot while the hub is out of reach
        self.processor = AutoProcessor.from_pretrained(folder)
        self.model_type = AutoConfig.from_pretrained(folder).model_type
        self.takes_video = self.model_type in VIDEO_MODELS
        self.llm = self._vllm.LLM(model=folder, dtype=dtype, max_model_len=max_model_len,
                                  gpu_memory_utilization=gpu_memory_utilization,
                                  limit_mm_per_prompt={"video": 1, "image": max_frames})

    def chat_text(self, request: Request) -> str:
        """The request's prompt as the chat template writes it."""
        return self.processor.apply_chat_template(request.messages, add_generation_prompt=True, tokenize=False)

    def count_tokens(self, request: Request) -> int:
        """Prompt tokens of ``request``, vision tokens included."""
        return count_tokens(self, request)

    def generate(self, requests: list[Request], settings: GenerationSettings,
                 schema: dict | None = None) -> list[Generation]:
        """All requests in one ``LLM.generate`` call (vLLM schedules them continuously)."""
        if not requests:
            return []
        params = sampling_params(self._vllm, settings, schema)
        outs = self._vllm_generate([vllm_input(self.processor, r) for r in requests], params)
        gens = []
        for out in outs:
            best = out.outputs[0]
            gens.append(Generation(text=best.text.strip(), new_tokens=len(best.token_ids),
                                   hit_limit=best.finish_reason == "length"))
        return gens

    def _vllm_generate(self, inputs: list[dict], params):
        return self.llm.generate(inputs, params, use_tqdm=False)
