"""VLM caption stage: temporally ordered captions from a vision-language model.

Per clip (kept clips only; it runs after dedup): the frame sample extract put in the
output store is loaded (no second decode), the clip is cut into time windows
(:mod:`.windows`), each window becomes a prompt (:mod:`.prompts`: the frames as one video
with their fps for models that take video, else images labelled with their times; the
measured signals as hints; JSON answers asked for). Windows of the whole batch are
generated together in batches sized by a token budget (:mod:`.batching`; halved on CUDA
out-of-memory) by the transformers engine (:mod:`.model`) or vLLM (:mod:`.vllm_engine`),
answers are read (:mod:`.answers`) and checked (:mod:`.hygiene`); a failed answer
(degenerate, cut off, or no timed events) is retried once with sampling. The windows'
answers are merged into a short caption, a long caption and events in time order
(:mod:`.merge`; a clip's windows and requests are a :class:`.jobs.Job`). A clip whose answer stays failed keeps the signal description with
``caption_degenerate``; one that did not fit in GPU memory even alone keeps it with
``caption_failed``. Results are cached by clip id, caption settings, the model's files and
the clip's hints (:mod:`.cache`).

The signals caption stage normally runs first (its camera segments are the hints); a
record that arrives without them gets them here with that stage's default thresholds.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import time
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from curate.caption import CaptionStage
from curate.captioning.answers import ANSWER_SCHEMA
from curate.captioning.batching import FittingGenerator, pack
from curate.camera import CameraThresholds
from curate.captioning.cache import CaptionCache, model_fingerprint
from curate.captioning.check import DEVICE, ModelUnavailable, check_model
from curate.captioning.generation import GenerationSettings
from curate.captioning.jobs import Job, entry_of, failed_caption, inputs_hash, make_job, model_caption, signal_events
from curate.captioning.prompts import PROMPT_VERSIONS, hints_of
from curate.extract import ExtractStage
from curate.stage import Stage, reject_for
from curate.tasks import ClipTask

CACHE_FIELDS = ("model", "engine", "dtype", "max_new_tokens", "prompt_version", "window_s", "stride_s",
                "image_side", "seed", "video", "structured")


class VLMCaptionStage(Stage):
    """Caption kept clips with a vision-language model (module docstring).

    Config: ``model`` (hub id or local path; a relative folder that exists is made
    absolute), ``engine`` (transformers | vllm), ``dtype``
    (auto | float32 | bfloat16 | float16), ``device`` (auto | cpu | cuda | cuda:N; the
    transformers engine), ``attn`` (auto | sdpa | eager | flash_attention_2),
    ``max_new_tokens`` (per window), ``prompt_version`` (v2: JSON answers; v1: free text),
    ``structured`` (constrain v2 answers to the JSON schema where the engine can),
    ``video`` (auto: frames as one video for models that take video; off: always images),
    ``window_s``/``stride_s`` (seconds, stride <= window), ``image_side`` (short side in
    pixels of frames given to the model), ``max_batch_tokens`` (token budget of one
    ``generate()`` call: rows x (longest prompt + max_new_tokens)), ``txt`` (the variant
    written to ``<key>.txt``: short | long | events | signals), ``seed`` (sampling seed of
    the retry, 0 <= seed < 2**63 - 1), ``cache`` (reuse captions under ``<work>/captions``),
    ``gpu_memory_utilization`` (vllm engine). ``resources.batch_size`` is the clips per
    call and the most prompts per ``generate()``.
    """

    name = "vlm_caption"
    uses_model = True
    stage: Literal["vlm_caption"] = "vlm_caption"
    model: str
    engine: Literal["transformers", "vllm"] = "transformers"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    attn: Literal["auto", "sdpa", "eager", "flash_attention_2"] = "auto"
    max_new_tokens: int = Field(256, ge=8, le=4096)
    prompt_version: Literal[PROMPT_VERSIONS] = "v2"  # type: ignore[valid-type]
    structured: bool = True
    video: Literal["auto", "off"] = "auto"
    window_s: float = Field(10.0, ge=0.5)  # shorter windows hold no frame of the sample (0.001 had made thousands)
    stride_s: float = Field(8.0, ge=0.25)
    image_side: int = Field(224, ge=28)
    max_batch_tokens: int = Field(32768, ge=256)
    txt: Literal["short", "long", "events", "signals"] = "long"
    seed: int = Field(0, ge=0, lt=2**63 - 1)  # the retry seeds with seed + 1, a signed 64-bit integer
    cache: bool = True
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    _vlm: object = PrivateAttr(None)
    _fit: FittingGenerator | None = PrivateAttr(None)
    _signal_thresholds: dict | None = PrivateAttr(None)
    _frame_sample: dict | None = PrivateAttr(None)
    _weights: tuple[str, str] | None = PrivateAttr(None)
    _stats: dict = PrivateAttr(default_factory=lambda: {"generate_calls": 0, "prompts": 0, "new_tokens": 0,
                                                        "oom_splits": 0, "failed": 0})

    @field_validator("video", mode="before")
    @classmethod
    def _yaml_off(cls, value):
        """YAML 1.1 reads a bare ``off`` as false: it means ``off``."""
        return "off" if value is False else value

    @model_validator(mode="after")
    def _check_stride(self) -> "VLMCaptionStage":
        if not self.model.strip():
            raise ValueError("model is empty: name a hub id (org/name) or a folder saved with save_pretrained")
        folder = os.path.expanduser(self.model)
        if not os.path.isabs(folder) and os.path.isdir(folder):  # a relative folder: workers start elsewhere
            self.model = os.path.abspath(folder)
        if not DEVICE.fullmatch(self.device):
            raise ValueError(f"device {self.device!r}: use auto, cpu, cuda, cuda:N or mps")
        if self.stride_s > self.window_s:
            raise ValueError(f"stride_s ({self.stride_s}) must not exceed window_s ({self.window_s}): windows would leave gaps")
        return self

    def preflight(self) -> None:
        """Check that the model could be loaded on this machine, without keeping it
        (:func:`curate.captioning.check.check_model`: its files, that a saved folder's
        weights fit its config, a hub id's config, the device, ``attn``). Raises :class:`ModelUnavailable`."""
        if self.engine == "vllm" and importlib.util.find_spec("vllm") is None:
            raise ModelUnavailable("engine vllm: vLLM is not installed (pip install 'vidcurate[vllm]' on the GPU "
                                   "nodes), or use engine: transformers")
        if self.engine == "vllm":
            check_model(self.model, "auto", fit=False)
        else:
            check_model(self.model, self.device, self.attn)

    def setup(self) -> None:
        """Load the model once per worker (the engine named by ``engine``). Raises
        :class:`ModelUnavailable` (exit code 2) when it cannot be loaded."""
        if self._vlm is None:
            try:
                if self.engine == "vllm":
                    from curate.captioning.vllm_engine import VLLMEngine

                    self._vlm = VLLMEngine(os.path.expanduser(self.model), self.dtype,
                                           gpu_memory_utilization=self.gpu_memory_utilization)
                else:
                    from curate.captioning.model import VisionLanguageModel

                    self._vlm = VisionLanguageModel(os.path.expanduser(self.model), self.dtype, self.device, self.attn)
            except Exception as exc:
                text = str(exc).strip().splitlines()
                raise ModelUnavailable(f"caption model {self.model!r} cannot be loaded on {self.device}: "
                                       f"{type(exc).__name__}: {text[0] if text else ''}") from exc

    @property
    def stats(self) -> dict:
        """Counters of this worker: ``generate_calls``, ``prompts``, ``new_tokens``, ``oom_splits``
        (batches halved after running out of GPU memory), ``failed`` (prompts that did not fit alone)."""
        return self._stats

    def generation(self) -> GenerationSettings:
        """Settings of the first attempt (greedy); :meth:`GenerationSettings.retry` gives the second."""
        return GenerationSettings(max_new_tokens=self.max_new_tokens, seed=self.seed)

    def schema(self) -> dict | None:
        """The JSON schema answers are constrained to (v2 with ``structured``), else None."""
        return ANSWER_SCHEMA if self.prompt_version == "v2" and self.structured else None

    def use_signal_thresholds(self, thresholds: CameraThresholds) -> None:
        """The thresholds of the pipeline's signal caption stage, which label the camera
        hints of the prompts (set by :class:`pipelines.config.Pipeline`; default: that
        stage's defaults, what :meth:`_prepare` uses when no caption stage ran)."""
        self._signal_thresholds = dataclasses.asdict(thresholds)

    def use_frame_sample(self, sample_frames: int, sample_short_side: int) -> None:
        """The extract stage's frame sample (``sample_frames`` frames, short side at most
        ``sample_short_side`` pixels), which the prompts' images are taken from (set by
        :class:`pipelines.config.Pipeline`; default: that stage's defaults). In the cache
        key: a run with more or larger sample frames captions its clips again."""
        self._frame_sample = {"sample_frames": sample_frames, "sample_short_side": sample_short_side}

    def cache_settings(self) -> dict:
        """What keys the caption cache (see :mod:`curate.captioning.cache`): the settings of
        :data:`CACHE_FIELDS`, the generation settings, the model's files
        (:func:`~curate.captioning.cache.model_fingerprint`, taken once per worker), the
        signal thresholds of the hints and the frame sample (:meth:`use_frame_sample`)."""
        out = {k: getattr(self, k) for k in CACHE_FIELDS}
        out["generation"] = self.generation().to_json()
        if self._weights is None or self._weights[0] != self.model:
            self._weights = (self.model, model_fingerprint(self.model))
        out["weights"] = self._weights[1]
        out["signals"] = self._signal_thresholds or dataclasses.asdict(CaptionStage().thresholds())
        if self._frame_sample is None:
            defaults = ExtractStage()
            self.use_frame_sample(defaults.sample_frames, defaults.sample_short_side)
        out["frame_sample"] = self._frame_sample
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
        except ModelUnavailable:
            raise  # no clip can be captioned: the run stops with one line (exit code 2)
        except Exception as exc:  # noqa: BLE001 - each clip again alone: one bad clip costs only itself
            for job in jobs:
                if len(jobs) == 1:
                    reject_for(job.task, self.name, exc)
                else:
                    self._alone(job)
        share = (time.perf_counter() - start) / max(1, len(live))
        for task in live:
            task.timings[self.name] = task.timings.get(self.name, 0.0) + share
        return tasks

    def _alone(self, job: Job) -> None:
        """Caption ``job``'s clip by itself after its batch failed; an error becomes its reject row."""
        try:
            again = self._prepare(job.task)  # afresh: the failed batch left its answers half read
            if again is not None:
                self._run([again])
        except ModelUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - becomes the clip's reject row
            reject_for(job.task, self.name, exc)

    def _prepare(self, task: ClipTask) -> Job | None:
        """Signals, then the cache; on a miss, the clip's windows and prompts. None on a hit."""
        rec = task.record
        if rec.caption is None or not rec.camera_segments:
            CaptionStage().process(task)
        signals = rec.caption.signals or rec.caption.text
        hints = hints_of(rec)
        inputs = inputs_hash(hints, rec.clip.duration_s)
        cache = CaptionCache(task.work_dir, self.cache_settings()) if self.cache else None
        hit = cache.get(task.clip_id, inputs) if cache else None
        if hit is not None:
            rec.caption = model_caption(hit, signals, signal_events(rec), self.model, self.prompt_version)
            return None
        self.setup()
        video = self.video == "auto" and bool(getattr(self._vlm, "takes_video", False))
        return make_job(task, signals, hints, inputs, window_s=self.window_s, stride_s=self.stride_s,
                        prompt_version=self.prompt_version, video=video, image_side=self.image_side)

    def _generate(self, items: list[tuple[Job, int]], settings: GenerationSettings) -> None:
        """Generate the given windows in token-budget batches; read and check each answer."""
        if self._fit is None:
            self._fit = FittingGenerator(self._vlm.generate)
        for video in (False, True):
            group = [(j, w) for j, w in items if j.requests[w].video == video]
            costs = [self._vlm.count_tokens(j.requests[w]) for j, w in group]
            cap = min(self.resources.batch_size, self._fit.cap or self.resources.batch_size)
            for batch in pack(costs, self.max_batch_tokens, cap, reserve=settings.max_new_tokens):
                chunk = [group[i] for i in batch]
                gens = self._fit([j.requests[w] for j, w in chunk], settings, self.schema())
                self._stats["prompts"] += len(chunk)
                for (job, w), gen in zip(chunk, gens):
                    job.take(w, gen)
                    self._stats["new_tokens"] += gen.new_tokens
        self._stats.update(generate_calls=self._fit.calls, oom_splits=self._fit.splits, failed=self._fit.failed)

    def _run(self, jobs: list[Job]) -> None:
        """First attempt for every window, one retry for failed answers, then records and cache.

        A clip with a window that did not fit in GPU memory even alone keeps its signal
        caption with ``caption_failed`` and is not cached (a later run may have the room).
        """
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
            entry = entry_of(job, settings, attempts=2 if id(job) in retried else 1)
            errors = sorted({e for e in job.errors if e})
            prior = signal_events(job.task.record)
            if errors:
                job.task.record.caption = failed_caption(entry, job.signals, errors, prior, self.model,
                                                         self.prompt_version)
                continue
            if self.cache:
                CaptionCache(job.task.work_dir, self.cache_settings()).put(job.task.clip_id, entry)
            job.task.record.caption = model_caption(entry, job.signals, prior, self.model, self.prompt_version)
