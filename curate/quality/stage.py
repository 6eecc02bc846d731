"""Quality stage (``stage: quality``): picture limits, on-screen text and NSFW scores, thresholds.

Per clip, in this order:

1. resolution and aspect limits on the source picture as displayed (``min_short_side``,
   ``min_width``, ``min_height``; ``min_aspect``/``max_aspect`` of width / height):
   rejects ``low_resolution`` / ``bad_aspect_ratio`` before any model runs. They depend
   on the source alone, so the per-source step applies them to the probed source first
   (:meth:`QualityStage.source_gate`): a source under them is rejected whole, before it
   is split, decoded or encoded;
2. ``text: true``: ``scores.text_area``, the mean share of the picture covered by text
   boxes over ``frames`` frames of the frame sample (:mod:`curate.quality.text`); with
   ``text_read`` (the default) a region that is not line-shaped counts only when PP-OCR's
   recognition model reads it as text (:mod:`curate.quality.textread`: at least 2 letters
   or digits read with a mean confidence of ``text_min_score``), a line-shaped one (within
   45 degrees of the horizontal, at least ``text_line_aspect`` times as long as high)
   whatever it reads;
3. ``nsfw: true``: ``scores.nsfw``, the highest NSFW confidence over those frames
   (:mod:`curate.quality.nsfw`);
4. thresholds ``max_text_area`` (``text_overlay``) and ``max_nsfw`` (``nsfw``).

A dropped clip's ``rejects.parquet`` row keeps every score computed so far. Models
are loaded once per actor (``setup``), every clip of a batch goes through one model
call per model, and missing weights stop the pipeline when its file is read
(:meth:`QualityStage._weights`), before any work starts.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import Field, PrivateAttr, model_validator

from curate.quality import nsfw as nsfw_mod
from curate.quality import text as text_mod
from curate.quality import textread
from curate.quality.weights import WeightsMissing, require
from curate.stage import RejectError, Resources, Stage, reject_for
from curate.tasks import ClipTask
from schemas import SourceInfo


class QualityStage(Stage):
    """See module docstring. Config: ``min_short_side``, ``min_width``, ``min_height``
    (pixels), ``min_aspect``/``max_aspect`` (width / height), ``text`` and ``text_model``
    (``.onnx`` path; null = the rapidocr wheel's), ``text_side`` (detection short side, px),
    ``text_read`` (boxes count only when recognised as text), ``text_rec_model`` (``.onnx``
    path; null = the rapidocr wheel's), ``text_min_score`` (0..1), ``text_line_aspect``
    (length / height of a region that counts unread; null: none does), ``max_text_area``
    (0..1), ``nsfw`` and ``nsfw_model`` (null = the nudenet wheel's), ``max_nsfw`` (0..1), ``frames`` (frames of the frame sample scored per clip).
    Every limit is optional (null = not applied)."""

    name = "quality"
    stage: Literal["quality"] = "quality"
    resources: Resources = Field(default_factory=lambda: Resources(batch_size=8, concurrency=1))
    min_short_side: int | None = Field(None, ge=1)
    min_width: int | None = Field(None, ge=1)
    min_height: int | None = Field(None, ge=1)
    min_aspect: float | None = Field(None, gt=0)
    max_aspect: float | None = Field(None, gt=0)
    text: bool = False
    text_model: str | None = None
    text_side: int = Field(480, ge=32, le=2048)
    text_read: bool = True
    text_rec_model: str | None = None
    text_min_score: float = Field(0.5, ge=0, le=1)
    text_line_aspect: float | None = Field(3.0, ge=1)
    max_text_area: float | None = Field(None, ge=0, le=1)
    nsfw: bool = False
    nsfw_model: str | None = None
    max_nsfw: float | None = Field(None, ge=0, le=1)
    frames: int = Field(4, ge=1, le=64)
    _text: object = PrivateAttr(None)
    _nsfw: object = PrivateAttr(None)
    _ready: bool = PrivateAttr(False)

    @property
    def uses_model(self) -> bool:  # type: ignore[override] - per instance, not per class
        """Whether this stage loads a model: ``text`` or ``nsfw`` on. Picture limits alone
        use none, so the stage then runs inside the one-decode pass like ``score``
        (:attr:`fusable`) and a local run starts no Ray for it (it had started one, with an
        actor pool, for a resolution check: the footage run took 35 s instead of 17)."""
        return self.text or self.nsfw

    @property
    def fusable(self) -> bool:  # type: ignore[override]
        """Without a model (:attr:`uses_model`), a pure function of the clip's record."""
        return not self.uses_model

    @model_validator(mode="after")
    def _weights(self) -> "QualityStage":
        if self.min_aspect and self.max_aspect and self.min_aspect > self.max_aspect:
            raise ValueError(f"min_aspect ({self.min_aspect}) must not exceed max_aspect ({self.max_aspect})")
        if self.max_text_area is not None and not self.text:
            raise ValueError("max_text_area needs text: true")
        if self.max_nsfw is not None and not self.nsfw:
            raise ValueError("max_nsfw needs nsfw: true")
        limits = (self.min_short_side, self.min_width, self.min_height, self.min_aspect, self.max_aspect)
        if not (self.text or self.nsfw or any(v is not None for v in limits)):
            raise ValueError("the quality stage has nothing to do: set a picture limit (min_short_side, min_width, "
                             "min_height, min_aspect, max_aspect), text: true or nsfw: true")
        try:
            if self.text:
                require(self.text_model, text_mod.PACKAGE, text_mod.RELPATH, text_mod.HINT)
            if self.text and self.text_read:
                require(self.text_rec_model, textread.PACKAGE, textread.RELPATH, textread.HINT)
                if self.text_rec_model is not None:  # a file of the user's: one that can read
                    textread.check_model(self.text_rec_model)
            if self.nsfw:
                require(self.nsfw_model, nsfw_mod.PACKAGE, nsfw_mod.RELPATH, nsfw_mod.HINT)
        except WeightsMissing as exc:  # a config error: the pipeline file names the stage
            raise ValueError(str(exc)) from None
        return self

    def setup(self) -> None:
        reader = textread.TextReader(self.text_rec_model) if self.text and self.text_read else None
        self._text = text_mod.TextDetector(self.text_model, self.text_side, reader=reader,
                                           min_score=self.text_min_score,
                                           line_aspect=self.text_line_aspect) if self.text else None
        self._nsfw = nsfw_mod.NsfwDetector(self.nsfw_model) if self.nsfw else None
        self._ready = True

    def source_gate(self, source: SourceInfo) -> None:
        """The picture limits on a probed source (``source.width`` x ``source.height``, as
        displayed): they depend on the source alone, so the per-source step
        (:class:`pipelines.rows.PassSteps`) applies them right after the probe and a source
        under them is rejected whole (stage ``quality``: ``low_resolution`` or
        ``bad_aspect_ratio``) before it is split, decoded or encoded (it had been decoded,
        encoded and scored, then dropped clip by clip). Raises :class:`RejectError`."""
        self._check_size(source.width, source.height)

    def _limits(self, task: ClipTask) -> None:
        self._check_size(task.record.source.width, task.record.source.height)

    def _check_size(self, w: int, h: int) -> None:
        for key, value in (("min_short_side", min(w, h)), ("min_width", w), ("min_height", h)):
            limit = getattr(self, key)
            if limit is not None and value < limit:
                raise RejectError("low_resolution", f"{w}x{h}: {key.split('_', 1)[1]} {value} < {key}={limit}")
        aspect = w / max(h, 1)
        if (self.min_aspect and aspect < self.min_aspect) or (self.max_aspect and aspect > self.max_aspect):
            raise RejectError("bad_aspect_ratio", f"{w}x{h}: aspect {aspect:.3g} outside "
                                                  f"[{self.min_aspect}, {self.max_aspect}]")

    def _pick(self, task: ClipTask) -> np.ndarray:
        n = len(task.frames)
        return task.frames[np.unique(np.linspace(0, n - 1, min(self.frames, n)).round().astype(int))]

    def process_batch(self, tasks: list[ClipTask]) -> list[ClipTask]:
        """Limits per clip, then one model call per model for the clips left (frames grouped
        by size); a failing model call makes its clips ``stage_error`` rows. Each clip's
        ``timings["quality"]`` gets an even share of the batch's seconds."""
        start = time.perf_counter()
        self._judge(tasks)
        share = (time.perf_counter() - start) / max(len(tasks), 1)
        for t in tasks:
            t.timings[self.name] = t.timings.get(self.name, 0.0) + share
        return tasks

    def _judge(self, tasks: list[ClipTask]) -> list[ClipTask]:
        """:meth:`process_batch` without the timings: rejected clips are marked on their task."""
        live = []
        for t in tasks:
            if t.rejected:
                continue
            try:
                self._limits(t)
                live.append(t)
            except RejectError as exc:
                reject_for(t, self.name, exc)
        if not self._ready:
            self.setup()
        picks = {id(t): self._pick(t) for t in live} if self.uses_model else {}  # limits need no frames
        for model, field in ((self._text, "text_area"), (self._nsfw, "nsfw")):
            if model is not None and live:
                live = self._score(live, picks, model, field)
        for t in live:
            try:
                self._thresholds(t)
            except RejectError as exc:
                reject_for(t, self.name, exc)
        return tasks

    def _score(self, live, picks, model, field):
        by_shape: dict[tuple, list[ClipTask]] = {}
        for t in live:
            by_shape.setdefault(picks[id(t)].shape[1:], []).append(t)
        for group in by_shape.values():
            frames = np.concatenate([picks[id(t)] for t in group])
            try:
                values = model.area(frames) if field == "text_area" else model.scores(frames)
            except Exception as exc:  # noqa: BLE001 - each clip gets a stage_error row
                for t in group:
                    reject_for(t, self.name, exc)
                continue
            k = 0
            for t in group:
                v = values[k:k + len(picks[id(t)])]
                k += len(v)
                setattr(t.record.scores, field, round(float(v.mean() if field == "text_area" else v.max()), 6))
        return [t for t in live if not t.rejected]

    def _thresholds(self, task: ClipTask) -> None:
        s = task.record.scores
        if self.max_text_area is not None and s.text_area is not None and s.text_area > self.max_text_area:
            raise RejectError("text_overlay", f"text_area={s.text_area:.4g} > max_text_area={self.max_text_area}")
        if self.max_nsfw is not None and s.nsfw is not None and s.nsfw > self.max_nsfw:
            raise RejectError("nsfw", f"nsfw={s.nsfw:.4g} > max_nsfw={self.max_nsfw}")

    def process(self, task: ClipTask) -> ClipTask:
        """One clip: inside the one-decode pass (no model: :attr:`fusable`) or as a Ray
        task; :meth:`curate.stage.Stage.__call__` adds its time."""
        return self._judge([task])[0]
