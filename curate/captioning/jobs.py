"""One clip's captioning job for :class:`curate.captioning.stage.VLMCaptionStage`.

A :class:`Job` holds a clip's time windows (:mod:`.windows`), one model request per
window built from the frame sample the extract stage wrote to the output store (no second
decode; :mod:`.prompts`), and what generation gives back for each. :func:`entry_of` turns
a finished job into the cacheable result (:class:`curate.captioning.cache.CachedCaption`),
and :func:`inputs_hash` keys a cache entry to the clip's own prompt inputs.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass

import cv2
import numpy as np

from curate import store
from curate.captioning.answers import WindowCaption, read_answer, without_reasoning
from curate.captioning.cache import CachedCaption
from curate.captioning.generation import Generation, GenerationSettings
from curate.captioning.hygiene import degenerate_kind, strip_boilerplate
from curate.captioning.merge import merge_windows
from curate.captioning.model import Request
from curate.captioning.prompts import build_prompt, prompt_text
from curate.captioning.windows import Window, frames_in, make_windows
from curate.extract import frames_path
from curate.frames_io import load_frames
from curate.tasks import ClipTask
from schemas import Caption, CaptionEvent


@dataclass
class Job:
    """One clip waiting for generation: its windows, requests, prompt texts and what came back."""

    task: ClipTask
    signals: str
    windows: list[Window]
    requests: list[Request]
    prompts: list[str]
    captions: list[WindowCaption | None]
    kinds: list[str | None]
    errors: list[str | None]
    inputs: str = ""
    new_tokens: int = 0

    def take(self, w: int, gen: Generation) -> None:
        """Read the answer ``gen`` to window ``w``: its window caption and degenerate kind
        (:func:`curate.captioning.hygiene.degenerate_kind`; ``unreadable`` for an answer the
        reader cannot take), or its error; its new tokens are counted."""
        self.new_tokens += gen.new_tokens
        if gen.error:
            self.errors[w], self.kinds[w] = gen.error, None
            return
        text = strip_boilerplate(without_reasoning(gen.text))
        try:
            cap = read_answer(text, self.windows[w], self.requests[w].offset_s)
            pieces = [cap.summary] + [e.text for e in cap.events]
            kind = degenerate_kind(text, self.prompts[w], hit_limit=gen.hit_limit, pieces=pieces,
                                   events=len(cap.events))
        except Exception:  # noqa: BLE001 - an answer the reader cannot take fails its window only
            cap, kind = None, "unreadable"
        self.captions[w], self.kinds[w] = cap, kind


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


def make_job(task: ClipTask, signals: str, hints, inputs: str, *, window_s: float, stride_s: float,
             prompt_version: str, video: bool, image_side: int) -> Job:
    """The job of ``task``'s clip: its frame sample (``(N, H, W, 3) uint8`` and times in
    seconds, read from the output store, where extract wrote it on whichever node) cut
    into windows of ``window_s`` every ``stride_s`` seconds, each window's frames resized to
    a short side of at most ``image_side`` pixels and put in a prompt with ``hints``
    (as one video when ``video``). Raises what the store raises for a missing sample."""
    frames, times = load_frames(io.BytesIO(store.read_bytes(frames_path(task.work_dir, task.clip_id))))
    frames, times = increasing(frames, times)
    duration = task.record.clip.duration_s
    windows = make_windows(duration, window_s, stride_s)
    requests, prompts = [], []
    for w in windows:
        idx = frames_in(w, times, duration)
        p = build_prompt([times[i] for i in idx], hints, w, duration, prompt_version, video)
        images = [resize_short_side(frames[i], image_side) for i in idx]
        requests.append(Request(images, p.messages, video=p.video, fps=p.fps, offset_s=p.offset_s))
        prompts.append(prompt_text(p.messages))
    n = len(windows)
    return Job(task, signals, windows, requests, prompts, [None] * n, [None] * n, [None] * n, inputs)


def entry_of(job: Job, settings: GenerationSettings, attempts: int) -> CachedCaption:
    """The cacheable result of a finished job: merged captions, or the degenerate kinds."""
    common = {"generation": settings.to_json(), "new_tokens": job.new_tokens, "attempts": attempts,
              "inputs": job.inputs}
    kinds = sorted({k for k in job.kinds if k})
    if kinds or any(e for e in job.errors):
        return CachedCaption(degenerate=kinds, **common)
    short, long, events = merge_windows(list(job.captions))
    return CachedCaption(short=short, long=long, events=events, **common)


def inputs_hash(hints, duration_s: float) -> str:
    """16 hex characters of a hash of a clip's own prompt inputs: its hints and duration
    (not its frame times: the frame sample is read only on a miss)."""
    data = {"segments": [s.model_dump(mode="json") for s in hints.segments], "motion": hints.motion,
            "screen_text": hints.screen_text, "duration_s": duration_s}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def signal_events(record) -> list[CaptionEvent]:
    """Timed events of the signal caption already on ``record`` (kept when the model falls back)."""
    prior = getattr(record, "caption", None)
    return list(prior.events) if prior is not None and prior.source == "signals" else []


def _common(entry: CachedCaption, signals: str, model_id: str, prompt_version: str) -> dict:
    return {"model_id": model_id, "prompt_version": prompt_version, "generation": entry.generation,
            "signals": signals}


def model_caption(entry: CachedCaption, signals: str, signal_events: list[CaptionEvent], model_id: str,
                  prompt_version: str) -> Caption:
    """The record's caption from a finished (or cached) ``entry``: the model's when usable,
    else the ``signals`` text (with its timed events) and ``caption_degenerate``."""
    if entry.ok:
        return Caption(text=entry.long, source="model", short=entry.short, long=entry.long, events=entry.events,
                       **_common(entry, signals, model_id, prompt_version))
    return Caption(text=signals, source="signals", degenerate_reason="caption_degenerate",
                   degenerate_detail=",".join(entry.degenerate), events=signal_events,
                   **_common(entry, signals, model_id, prompt_version))


def failed_caption(entry: CachedCaption, signals: str, errors: list[str], signal_events: list[CaptionEvent],
                   model_id: str, prompt_version: str) -> Caption:
    """The signal caption (and its timed events) of a clip the model could not run on,
    with ``caption_failed`` and the ``errors`` as its detail."""
    return Caption(text=signals, source="signals", degenerate_reason="caption_failed",
                   degenerate_detail=",".join(errors), events=signal_events,
                   **_common(entry, signals, model_id, prompt_version))
