"""Generation settings that do what they say, whatever the model's own generation config holds.

A model's ``generation_config.json`` fills every knob a ``generate()`` call leaves out.
Qwen2-VL/Qwen2.5-VL-Instruct ship ``do_sample=True, top_k=1, top_p=0.001,
temperature=0.1, repetition_penalty=1.05``: effectively greedy. So the settings here
always pass ``top_k``, ``top_p`` and ``temperature`` explicitly: the first attempt is
greedy, and the retry after a failed answer really samples (``top_k=0`` switches the
model's top-k cut off, the seed then matters).

Repetition controls count only generated tokens: transformers' built-in
``repetition_penalty`` and ``no_repeat_ngram_size`` look at the whole sequence, prompt
included, so they penalise or forbid the very labels and JSON keys the prompt asks for.
Here both are applied through :class:`GeneratedOnly` around the transformers processors,
and the built-in ones are switched off (``repetition_penalty=1.0``,
``no_repeat_ngram_size=0``). vLLM's engine takes the same settings through
:meth:`GenerationSettings.sampling_kwargs` (its penalties apply to the output only for
``frequency``/``presence``; its ``repetition_penalty`` counts the prompt too, so it is
kept at the model's mild default there).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class GenerationSettings:
    """Settings of one ``generate()`` call.

    ``max_new_tokens``: tokens per answer. ``top_k``: 0 = no top-k cut. ``repetition_penalty``
    and ``no_repeat_ngram_size`` (0 = off) apply to generated tokens only. ``seed``: seeds
    sampling (ignored when greedy).
    """

    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.05
    no_repeat_ngram_size: int = 0
    seed: int = 0

    def generate_kwargs(self) -> dict:
        """Keyword arguments for transformers ``model.generate`` (every sampling knob explicit)."""
        kw = {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample,
              "repetition_penalty": 1.0, "no_repeat_ngram_size": 0}
        if self.do_sample:
            kw.update(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        else:  # greedy: no sampling knob applies (None clears the model's own values)
            kw.update(temperature=None, top_p=None, top_k=None)
        return kw

    def logits_processors(self, prompt_len: int) -> list:
        """The repetition controls as transformers logits processors over generated tokens only.

        ``prompt_len``: the padded prompt length of the batch (``input_ids.shape[1]``).
        """
        from transformers.generation.logits_process import (NoRepeatNGramLogitsProcessor,
                                                            RepetitionPenaltyLogitsProcessor)

        out = []
        if self.repetition_penalty != 1.0:
            out.append(GeneratedOnly(RepetitionPenaltyLogitsProcessor(self.repetition_penalty), prompt_len))
        if self.no_repeat_ngram_size:
            out.append(GeneratedOnly(NoRepeatNGramLogitsProcessor(self.no_repeat_ngram_size), prompt_len))
        return out

    def sampling_kwargs(self) -> dict:
        """Keyword arguments for ``vllm.SamplingParams`` with the same meaning."""
        kw = {"max_tokens": self.max_new_tokens, "seed": self.seed, "repetition_penalty": 1.05}
        if self.do_sample:
            kw.update(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k or -1,
                      frequency_penalty=max(0.0, self.repetition_penalty - 1.0))
        else:
            kw.update(temperature=0.0, top_p=1.0, top_k=-1)
        return kw

    def retry(self) -> "GenerationSettings":
        """Settings of the one retry after a failed answer: sampling (temperature 0.7, top-p
        0.9, no top-k cut), a stronger penalty on repeated generated tokens, 1.5x the tokens
        and the next seed."""
        return replace(self, do_sample=True, temperature=0.7, top_p=0.9, top_k=0, repetition_penalty=1.1,
                       max_new_tokens=int(self.max_new_tokens * 1.5), seed=self.seed + 1)

    def to_json(self) -> str:
        """The settings as a compact JSON object string (stored in ``Caption.generation``)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


class GeneratedOnly:
    """A transformers logits processor applied to the generated part of the sequences only.

    ``inner``: e.g. ``RepetitionPenaltyLogitsProcessor``; ``prompt_len``: tokens before
    generation started (left-padded batch, so the same for every row). Called with
    ``input_ids (B, T) int64`` and ``scores (B, V) float``; returns the scores.
    """

    def __init__(self, inner, prompt_len: int):
        self.inner = inner
        self.prompt_len = prompt_len

    def __call__(self, input_ids, scores):
        new = input_ids[:, self.prompt_len:]
        if new.shape[1] == 0:
            return scores
        return self.inner(new, scores)


@dataclass(frozen=True)
class Generation:
    """A decoded answer, the tokens generated for it (up to and including EOS) and whether it
    stopped at ``max_new_tokens`` without an EOS (``hit_limit``). ``error``: why no answer
    came (e.g. ``cuda_oom``), else None."""

    text: str
    new_tokens: int
    hit_limit: bool
    error: str | None = None
