"""The vision-language model behind the caption stage, kept apart from the stage itself.

After cosmos-curate's split of ``model_interface`` (load weights, run the model) from
``stage_interface`` (records, batching, caching): this module knows transformers and
torch, nothing about clips. Any model that ``AutoModelForImageTextToText`` loads and whose
``AutoProcessor`` has a chat template taking several images works (Qwen2/2.5/3-VL,
LLaVA-OneVision, SmolVLM2, Idefics3, ...), named by hub id or local path. With
``HF_HUB_OFFLINE=1`` only local paths (or models already in the hub cache) load.

Batched generation pads on the left (decoder-only generation continues from the last
position of every row), as Ray Data's vision-LLM batch-inference example and the
transformers docs prescribe. torch and transformers are imported when a model is
loaded, so reading a pipeline file stays cheap.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

import numpy as np

DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class GenerationSettings:
    """Settings of one ``generate()`` call. ``max_new_tokens`` counts tokens; ``seed`` seeds sampling."""

    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    repetition_penalty: float = 1.05
    no_repeat_ngram_size: int = 0
    seed: int = 0

    def generate_kwargs(self) -> dict:
        """Keyword arguments for ``model.generate`` (sampling knobs only when sampling)."""
        kw = {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample,
              "repetition_penalty": self.repetition_penalty}
        if self.do_sample:
            kw.update(temperature=self.temperature, top_p=self.top_p)
        else:
            kw.update(temperature=None, top_p=None, top_k=None)
        if self.no_repeat_ngram_size:
            kw["no_repeat_ngram_size"] = self.no_repeat_ngram_size
        return kw

    def retry(self) -> "GenerationSettings":
        """The other settings of the one retry after a degenerate answer: sampling with a
        stronger repetition penalty, no repeated 4-grams and half as many tokens again."""
        return replace(self, do_sample=True, temperature=0.7, top_p=0.9, repetition_penalty=1.2,
                       no_repeat_ngram_size=4, max_new_tokens=int(self.max_new_tokens * 1.5),
                       seed=self.seed + 1)

    def to_json(self) -> str:
        """The settings as a compact JSON object string (stored in ``Caption.generation``)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


@dataclass
class Request:
    """One prompt: ``images`` (each ``(H, W, 3) uint8`` RGB) and the chat ``messages`` that place them."""

    images: list[np.ndarray]
    messages: list[dict]


@dataclass(frozen=True)
class Generation:
    """A decoded answer, the tokens generated for it (up to and including EOS) and whether it hit the limit."""

    text: str
    new_tokens: int
    hit_limit: bool


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


class VisionLanguageModel:
    """A loaded VLM: ``generate(requests, settings) -> [Generation]``, one per request, in order.

    ``model_id``: hub id or local folder (saved with ``save_pretrained``, processor included).
    Raises OSError when the weights cannot be found (e.g. a hub id under ``HF_HUB_OFFLINE=1``).
    """

    def __init__(self, model_id: str, dtype: str = "auto", device: str = "auto"):
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.model_id = model_id
        self.device = resolve_device(device)
        self.processor = AutoProcessor.from_pretrained(model_id)
        self.processor.tokenizer.padding_side = "left"
        self.model = AutoModelForImageTextToText.from_pretrained(
            model_id, dtype=resolve_dtype(dtype, self.device)).to(self.device).eval()
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        tok = self.processor.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else min(self.eos_ids, default=0)

    def encode(self, requests: list[Request]) -> dict:
        """Chat-template, tokenise and preprocess a batch; tensors on the model's device."""
        texts = [self.processor.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=False)
                 for r in requests]
        images = [list(r.images) for r in requests]
        batch = self.processor(text=texts, images=images, padding=True, return_tensors="pt")
        return batch.to(self.device)

    def _count(self, row) -> tuple[int, bool]:
        """Tokens of one generated row ``(T,) int64`` up to the first EOS, and whether none came."""
        for i, tok in enumerate(row.tolist()):
            if tok in self.eos_ids:
                return i + 1, False
        return len(row), True

    def generate(self, requests: list[Request], settings: GenerationSettings) -> list[Generation]:
        """Generate one answer per request in a single batched ``generate()`` call."""
        import torch

        if not requests:
            return []
        batch = self.encode(requests)
        if settings.do_sample:
            torch.manual_seed(settings.seed)
        with torch.inference_mode():
            out = self.model.generate(**batch, pad_token_id=self.pad_id, **settings.generate_kwargs())
        new = out[:, batch["input_ids"].shape[1]:].cpu()
        texts = self.processor.batch_decode(new, skip_special_tokens=True)
        gens = []
        for text, row in zip(texts, new):
            n, hit = self._count(row)
            gens.append(Generation(text=text.strip(), new_tokens=n, hit_limit=hit))
        return gens
