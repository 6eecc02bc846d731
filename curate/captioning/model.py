"""The transformers engine behind the caption stage, kept apart from the stage itself.

After cosmos-curate's split of ``model_interface`` (load weights, run the model) from
``stage_interface`` (records, batching, caching): this module knows transformers and
torch, nothing about clips. Any model that ``AutoModelForImageTextToText`` loads and whose
``AutoProcessor`` has a chat template works, named by hub id or local path. With
``HF_HUB_OFFLINE=1`` only local paths (or models already in the hub cache) load.

- **Video input.** Models of :data:`VIDEO_MODELS` (Qwen2-VL, Qwen2.5-VL, Qwen3-VL) get a
  window's frames as one video with its metadata (``fps`` = the frame sample's rate,
  ``do_sample_frames=False``), so Qwen2.5-VL's time-aligned rotary positions
  (``second_per_grid_ts``) and Qwen3-VL's timestamp tokens see real time, and two
  frames share one temporal patch (half the vision tokens of separate images). Other
  models get the frames as separate images. The processor's own resize only rounds to
  its patch grid: frames arrive at the stage's ``image_side`` already.
- **Loading.** ``device_map`` puts the weights straight onto the device (no full copy in
  host RAM first); FlashAttention 2 when ``flash_attn`` is installed and the device is
  CUDA, else PyTorch SDPA.
- **Batches** pad on the left (decoder-only generation continues from every row's last
  position). ``count_tokens`` gives a request's prompt tokens, vision tokens included,
  for the stage's token-budget batching.
- **Structured answers.** ``generate(..., schema=...)`` constrains decoding to a JSON
  schema with :mod:`curate.captioning.constrain` when lm-format-enforcer is installed.

torch and transformers are imported when a model is loaded, so reading a pipeline file
stays cheap.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass

import numpy as np

from curate.captioning.generation import Generation, GenerationSettings

DTYPES = ("float32", "bfloat16", "float16")
VIDEO_MODELS = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe")
NO_HUB_KERNELS = {"use_kernels": False}
"""``from_pretrained`` keywords of every caption model load (here, the fit check's and
:mod:`curate.captioning.tiny`'s): no hub kernels, the PyTorch layers. transformers 5.25
turned Hugging Face hub kernels on by default where the ``kernels`` package is installed
(it now comes with it), and they
are fetched from the hub (unreachable on an offline node) and refuse the ``meta`` device
of the fit check (:mod:`curate.captioning.check`), whose every model then read as "its
weights do not load" (a fresh install's CI, 2026-12-07)."""
MIN_PIXELS, MAX_PIXELS = 4 * 28 * 28, 16384 * 28 * 28  # the processor only rounds to its grid

__all__ = ["Generation", "GenerationSettings", "Request", "VisionLanguageModel", "resolve_device", "resolve_dtype"]


@dataclass
class Request:
    """One prompt: frames ``images`` (each ``(H, W, 3) uint8`` RGB, equal sizes, in time order),
    the chat ``messages`` that place them, and how they go in.

    ``video``: the frames go in as one video (``messages`` hold one ``{"type": "video"}``)
    sampled at ``fps`` frames per second, else as images (one ``{"type": "image"}`` each).
    ``offset_s``: the clip time (seconds) of time 0 in the prompt and the answer.
    """

    images: list[np.ndarray]
    messages: list[dict]
    video: bool = False
    fps: float = 1.0
    offset_s: float = 0.0

    def video_metadata(self) -> dict:
        """transformers ``VideoMetadata`` fields: frame ``k`` is at ``k / fps`` seconds."""
        n = len(self.images)
        return {"fps": self.fps, "total_num_frames": n, "frames_indices": list(range(n)),
                "duration": n / self.fps}


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; anything else as given."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: str):
    """``auto`` -> ``torch.bfloat16`` on CUDA, ``torch.float32`` elsewhere; else the named
    ``torch`` dtype. Raises ValueError on an unknown name."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; known: auto, {', '.join(DTYPES)}")
    return getattr(torch, dtype)


def attention_implementation(device: str, requested: str = "auto") -> str:
    """``auto`` -> ``flash_attention_2`` on CUDA when ``flash_attn`` is installed, else ``sdpa``."""
    if requested != "auto":
        return requested
    if device.startswith("cuda") and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def qwen_vision_tokens(n_frames: int, height: int, width: int, video: bool, patch: int = 14,
                       merge: int = 2, temporal: int = 2) -> int:
    """Vision tokens Qwen2/2.5/3-VL spend on ``n_frames`` frames of ``height x width`` pixels
    (as one video: a temporal patch of ``temporal`` frames; as images: one patch each)."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    h, w = smart_resize(height, width, factor=patch * merge, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    per = (h // patch) * (w // patch) // merge ** 2
    return per * (math.ceil(n_frames / temporal) if video else n_frames)


def count_tokens(engine, request: Request) -> int:
    """Prompt tokens of ``request`` for ``engine`` (its ``processor``, ``model_type`` and
    ``chat_text``), vision tokens included: exact for the Qwen-VL family (chat text
    tokens plus :func:`qwen_vision_tokens`), else measured by running the processor."""
    if engine.model_type not in VIDEO_MODELS:
        batch = engine.processor(text=[engine.chat_text(request)], images=[list(request.images)], return_tensors="pt")
        return int(batch["input_ids"].shape[1])
    text = len(engine.processor.tokenizer(engine.chat_text(request))["input_ids"])
    h, w = request.images[0].shape[:2]
    if request.video:  # the one placeholder token becomes the vision tokens
        return text - 1 + qwen_vision_tokens(len(request.images), h, w, True)
    return text + sum(qwen_vision_tokens(1, *img.shape[:2], False) - 1 for img in request.images)


class VisionLanguageModel:
    """A loaded VLM: ``generate(requests, settings, schema) -> [Generation]``, one per request, in order.

    ``model_id``: hub id or local folder (saved with ``save_pretrained``, processor included).
    ``attn``: ``auto`` (see :func:`attention_implementation`), ``sdpa``, ``eager``,
    ``flash_attention_2``. A hub id is read from the local hub cache alone, without the hub
    client's retries, while huggingface.co takes no connection (:mod:`curate.hub`). Raises
    OSError when the weights cannot be found (e.g. a hub id under ``HF_HUB_OFFLINE=1``).
    """

    engine = "transformers"

    def __init__(self, model_id: str, dtype: str = "auto", device: str = "auto", attn: str = "auto"):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from curate.hub import from_pretrained

        self.model_id = model_id
        self.device = resolve_device(device)
        # a hub id from the local cache alone while the hub is out of reach (curate.hub)
        self.processor = from_pretrained(AutoProcessor, model_id)
        self.processor.tokenizer.padding_side = "left"
        self.attn = attention_implementation(self.device, attn)
        self.model = from_pretrained(
            AutoModelForImageTextToText, model_id, dtype=resolve_dtype(dtype, self.device), device_map=self.device,
            attn_implementation=self.attn, **NO_HUB_KERNELS).eval()
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        tok = self.processor.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else min(self.eos_ids, default=0)
        self.model_type = getattr(self.model.config, "model_type", "")
        video_processor = getattr(self.processor, "video_processor", None)
        self.takes_video = self.model_type in VIDEO_MODELS and video_processor is not None
        self._constraint = None

    def chat_text(self, request: Request) -> str:
        """The request's prompt as the chat template writes it (vision placeholders unexpanded)."""
        return self.processor.apply_chat_template(request.messages, add_generation_prompt=True, tokenize=False)

    def encode(self, requests: list[Request]) -> dict:
        """Chat-template, tokenise and preprocess a batch; tensors on the model's device.

        Raises ValueError when the batch mixes video and image requests.
        """
        if len({r.video for r in requests}) > 1:
            raise ValueError("a batch must be all video or all image requests")
        texts = [self.chat_text(r) for r in requests]
        size = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
        if requests[0].video:
            batch = self.processor(
                text=texts, videos=[np.stack(r.images) for r in requests], padding=True, return_tensors="pt",
                video_metadata=[r.video_metadata() for r in requests], do_sample_frames=False,
                videos_kwargs={"size": size, "cap_pixels_per_frame": False})
        else:
            batch = self.processor(text=texts, images=[list(r.images) for r in requests], padding=True,
                                   return_tensors="pt", **self.image_kwargs())
        return batch.to(self.device)

    def image_kwargs(self) -> dict:
        """The processor's image options for frames given as images: for Qwen-VL models
        (:data:`VIDEO_MODELS`, whose ``size`` is a pixel count), limits that leave the
        stage's frame size as it is; for every other model none, its processor's own
        resize. A break test: LLaVA's CLIP processor read the pixel counts as a short side
        of 3136 px and showed the model a flat 2 % of each frame, 40 times slower."""
        if self.model_type not in VIDEO_MODELS:
            return {}
        return {"images_kwargs": {"size": {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}}}

    def count_tokens(self, request: Request) -> int:
        """Prompt tokens of ``request``, vision tokens included (:func:`count_tokens`)."""
        return count_tokens(self, request)

    def _count(self, row) -> tuple[int, bool]:
        """Tokens of one generated row ``(T,) int64`` up to the first EOS, and whether none came."""
        for i, tok in enumerate(row.tolist()):
            if tok in self.eos_ids:
                return i + 1, False
        return len(row), True

    def constraint(self):
        """The :class:`~curate.captioning.constrain.SchemaConstraint` of this tokenizer, or None
        when lm-format-enforcer is not installed."""
        from curate.captioning import constrain

        if self._constraint is None and constrain.available():
            vocab = self.model.get_output_embeddings().weight.shape[0]
            self._constraint = constrain.SchemaConstraint(self.processor.tokenizer, sorted(self.eos_ids), vocab)
        return self._constraint

    def generate(self, requests: list[Request], settings: GenerationSettings,
                 schema: dict | None = None) -> list[Generation]:
        """Generate one answer per request in a single batched ``generate()`` call.

        ``schema``: constrain answers to this JSON schema when lm-format-enforcer is
        installed. Raises ``torch.cuda.OutOfMemoryError`` when the batch does not fit.
        """
        import torch

        if not requests:
            return []
        batch = self.encode(requests)
        prompt_len = batch["input_ids"].shape[1]
        extra = {}
        if schema is not None and self.constraint() is not None:
            extra["prefix_allowed_tokens_fn"] = self.constraint().allowed_tokens_fn(schema)
        if settings.do_sample:
            torch.manual_seed(settings.seed)
        with torch.inference_mode():
            out = self.model.generate(**batch, pad_token_id=self.pad_id, **settings.generate_kwargs(),
                                      logits_processor=settings.logits_processors(prompt_len), **extra)
        new = out[:, prompt_len:].cpu()
        texts = self.processor.batch_decode(new, skip_special_tokens=True)
        gens = []
        for text, row in zip(texts, new):
            n, hit = self._count(row)
            gens.append(Generation(text=text.strip(), new_tokens=n, hit_limit=hit))
        return gens
