"""VLM caption stage: temporally ordered captions from a vision-language model.

Per clip (kept clips only; it runs after dedup): the frame sample extract put in the
output store is loaded (no second decode), the clip is cut into time windows (:mod:`.windows`), each
window becomes a prompt with its frames' timestamps and the measured signals as hints
(:mod:`.prompts`), windows of the whole batch are generated together in batches of
``resources.batch_size`` (:mod:`.model`), answers are checked (:mod:`.hygiene`) and a
degenerate one is retried once with other settings; the windows' answers are merged into
a short caption, a long caption and events in time order (:mod:`.merge`). A clip whose
answer stays degenerate keeps the signal description with ``caption_degenerate``.
Results are cached by clip id and caption settings (:mod:`.cache`).

The signals caption stage normally runs first (its camera segments are the hints); a
record that arrives without them gets them here with that stage's default thresholds.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from pydantic import Field, PrivateAttr, model_validator

from curate import store
from curate.caption import CaptionStage
from curate.captioning.cache import CachedCaption, CaptionCache
from curate.captioning.hygiene import degenerate_kind, strip_boilerplate
from curate.captioning.merge import merge_windows, parse_answer
from curate.captioning.model import Generation, GenerationSettings, Request, VisionLanguageModel
from curate.captioning.prompts import PROMPT_VERSIONS, build_messages, hints_of, prompt_text
from curate.captioning.windows import Window, frames_in, make_windows
from curate.extract import frames_path
from curate.frames_io import load_frames
from curate.stage import Stage, reject_for
from curate.tasks import ClipTask
from schemas import Caption

CACHE_FIELDS = ("model", "dtype", "max_new_tokens", "prompt_version", "window_s", "stride_s",
                "image_side", "seed")


@dataclass
class _Job:
    """One clip waiting for generation: its windows, requests, prompt texts and answers."""

    task: ClipTask
    signals: str
    windows: list[Window]
    requests: list[Request]
    prompts: list[str]
    answers: list[str | None]
    kinds: list[str | None]
    new_tokens: int = 0


def resize_short_side(img: np.ndarray, side: int) -> np.ndarray:
    """Downscale ``(H, W, 3) uint8`` so its short side is at most ``side`` pixels (never upscales)."""
    h, w = img.shape[:2]
    scale = side / min(h, w)
    if scale >= 1:
        return img
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def increasing(frames: np.ndarray, times: list[float]) -> tuple[np.ndarray, list[float]]:
    """The frame sample sorted by time, keeping the first of frames with equal times."""
    order = sorted(range(len(times)), key=times.__getitem__)
    keep = [i for k, i in enumerate(order) if k == 0 or times[i] > times[order[k - 1]]]
    return frames[keep], [float(times[i]) for i in keep]


class VLMCaptionStage(Stage):
    """Caption kept clips with a vision-language model (module docstring).

    Config: ``model`` (hub id or local path), ``dtype`` (auto | float32 | bfloat16 |
    float16), ``device`` (auto | cpu | cuda | cuda:N), ``max_new_tokens`` (per window),
    ``prompt_version``, ``window_s``/``stride_s`` (seconds, stride <= window),
    ``image_side`` (short side in pixels of frames given to the model), ``txt`` (the
    variant written to ``<key>.txt``: short | long | events | signals), ``seed``
    (sampling seed of the retry), ``cache`` (reuse captions under ``<work>/captions``).
    ``resources.batch_size`` is both the clips per call and the prompts per ``generate()``.
    """

    name = "vlm_caption"
    uses_model = True
    stage: Literal["vlm_caption"] = "vlm_caption"
    model: str
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    max_new_tokens: int = Field(256, ge=8, le=4096)
    prompt_version: Literal[PROMPT_VERSIONS] = "v1"  # type: ignore[valid-type]
    window_s: float = Field(10.0, gt=0)
    stride_s: float = Field(8.0, gt=0)
    image_side: int = Field(224, ge=28)
    txt: Literal["short", "long", "events", "signals"] = "long"
    seed: int = 0
    cache: bool = True
    _vlm: VisionLanguageModel | None = PrivateAttr(None)
    _stats: dict = PrivateAttr(default_factory=lambda: {"generate_calls": 0, "prompts": 0, "new_tokens": 0})

    @model_validator(mode="after")
    def _check_stride(self) -> "VLMCaptionStage":
        if self.stride_s > self.window_s:
            raise ValueError(f"stride_s ({self.stride_s}) must not exceed window_s ({self.window_s}): windows would leave gaps")
        return self

    def setup(self) -> None:
        """Load the model once per worker."""
        if self._vlm is None:
            self._vlm = VisionLanguageModel(self.model, self.dtype, self.device)

    @property
    def stats(self) -> dict:
        """Counters of this worker: ``generate_calls``, ``prompts``, ``new_tokens``."""
        return self._stats

    def generation(self) -> GenerationSettings:
        """Settings of the first attempt (greedy); :meth:`GenerationSettings.retry` gives the second."""
        return GenerationSettings(max_new_tokens=self.max_new_tokens, seed=self.seed)

    def cache_settings(self) -> dict:
        """What keys the caption cache (see :mod:`curate.captioning.cache`)."""
        out = {k: getattr(self, k) for k in CACHE_FIELDS}
        out["generation"] = self.generation().to_json()
        return out

    def process(self, task: ClipTask) -> ClipTask:
        """Caption one clip; errors propagate to :meth:`Stage.__call__`."""
        job = self._prepare(task)
        if job is not None:
            self._run([job])
        return task

    def process_batch(self, tasks: list[ClipTask]) -> list[ClipTask]:
        """Caption a batch: cache hits first, then every remaining window in batched calls.

        Keeps ``Stage.__call__``'s behaviour per task: rejected tasks pass through, an
        error rejects the clips it concerns with a reason, wall time is shared out.
        """
        start = time.perf_counter()
        live = [t for t in tasks if not t.rejected]
        jobs = []
        for task in live:
            try:
                job = self._prepare(task)
            except Exception as exc:  # noqa: BLE001 - becomes the clip's reject row
                reject_for(task, self.name, exc)
                continue
            if job is not None:
                jobs.append(job)
        try:
            self._run(jobs)
        except Exception as exc:  # noqa: BLE001 - every clip of the failed batch gets a reject row
            for job in jobs:
                reject_for(job.task, self.name, exc)
        share = (time.perf_counter() - start) / max(1, len(live))
        for task in live:
            task.timings[self.name] = task.timings.get(self.name, 0.0) + share
        return tasks

    def _prepare(self, task: ClipTask) -> _Job | None:
        """Signals, then the cache; on a miss, the clip's windows and prompts. None on a hit."""
        rec = task.record
        if rec.caption is None or not rec.camera_segments:
            CaptionStage().process(task)
        signals = rec.caption.signals or rec.caption.text
        cache = CaptionCache(task.work_dir, self.cache_settings()) if self.cache else None
        hit = cache.get(task.clip_id) if cache else None
        if hit is not None:
            rec.caption = self._caption(hit, signals)
            return None
        # The frame sample is in the output store (written by extract on whichever node).
        frames, times = load_frames(io.BytesIO(store.read_bytes(frames_path(task.work_dir, task.clip_id))))
        frames, times = increasing(frames, times)
        duration = rec.clip.duration_s
        windows = make_windows(duration, self.window_s, self.stride_s)
        hints = hints_of(rec)
        requests, prompts = [], []
        for w in windows:
            idx = frames_in(w, times, duration)
            msgs = build_messages([times[i] for i in idx], hints, w, duration, self.prompt_version)
            requests.append(Request([resize_short_side(frames[i], self.image_side) for i in idx], msgs))
            prompts.append(prompt_text(msgs))
        n = len(windows)
        return _Job(task, signals, windows, requests, prompts, [None] * n, [None] * n)

    def _generate(self, items: list[tuple[_Job, int]], settings: GenerationSettings) -> None:
        """Generate the given windows in batches; store each answer and its degenerate kind."""
        step = self.resources.batch_size
        for i in range(0, len(items), step):
            chunk = items[i:i + step]
            gens: list[Generation] = self._vlm.generate([j.requests[w] for j, w in chunk], settings)
            self._stats["generate_calls"] += 1
            self._stats["prompts"] += len(chunk)
            for (job, w), gen in zip(chunk, gens):
                job.answers[w] = strip_boilerplate(gen.text)
                job.kinds[w] = degenerate_kind(job.answers[w], job.prompts[w])
                job.new_tokens += gen.new_tokens
                self._stats["new_tokens"] += gen.new_tokens

    def _run(self, jobs: list[_Job]) -> None:
        """First attempt for every window, one retry for degenerate ones, then records and cache."""
        if not jobs:
            return
        self.setup()
        first = self.generation()
        self._generate([(j, w) for j in jobs for w in range(len(j.windows))], first)
        retry = [(j, w) for j in jobs for w in range(len(j.windows)) if j.kinds[w]]
        if retry:
            self._generate(retry, first.retry())
        retried = {id(j) for j, _ in retry}
        for job in jobs:
            settings = first.retry() if id(job) in retried else first
            entry = self._entry(job, settings, attempts=2 if id(job) in retried else 1)
            if self.cache:
                CaptionCache(job.task.work_dir, self.cache_settings()).put(job.task.clip_id, entry)
            job.task.record.caption = self._caption(entry, job.signals)

    def _entry(self, job: _Job, settings: GenerationSettings, attempts: int) -> CachedCaption:
        """The cacheable result of a finished job: merged captions, or the degenerate kinds."""
        common = {"generation": settings.to_json(), "new_tokens": job.new_tokens, "attempts": attempts}
        kinds = sorted({k for k in job.kinds if k})
        if kinds:
            return CachedCaption(degenerate=kinds, **common)
        short, long, events = merge_windows([parse_answer(a, w) for a, w in zip(job.answers, job.windows)])
        return CachedCaption(short=short, long=long, events=events, **common)

    def _caption(self, entry: CachedCaption, signals: str) -> Caption:
        """The record's caption: the model's when usable, else the signals with ``caption_degenerate``."""
        common = {"model_id": self.model, "prompt_version": self.prompt_version,
                  "generation": entry.generation, "signals": signals}
        if entry.ok:
            return Caption(text=entry.long, source="model", short=entry.short, long=entry.long,
                           events=entry.events, **common)
        return Caption(text=signals, source="signals", degenerate_reason="caption_degenerate",
                       degenerate_detail=",".join(entry.degenerate), **common)
