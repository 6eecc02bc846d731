"""CLIP embedding stage (``stage: clip_embed``): open_clip clip embeddings and the aesthetic score.

Per batch of clips, ``frames`` frames of each clip's frame sample go through the open_clip
model in one batched pass (:func:`curate.quality.clip.clip_vectors`, GPU when present);
each clip's embedding is stored as ``record.clip_embedding`` (base64 float16), which
the dedup stage's semantic rule (``semantic_min_cos``) clusters. With
``aesthetic_head`` (a LAION-style MLP, :mod:`curate.quality.aesthetic`) the clip's
``scores.aesthetic`` is the head's score of its embedding, and ``min_aesthetic``
drops clips below it (``low_aesthetic``). The model is loaded once per actor; a
missing config, checkpoint or head stops the pipeline when its file is read.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, PrivateAttr, model_validator

from curate.quality import aesthetic, clip
from curate.quality.weights import WeightsMissing
from curate.stage import RejectError, Resources, Stage, reject_for, run_batch
from curate.tasks import ClipTask


class ClipModelStage(Stage):
    """Base of the stages that run an open_clip model (``clip_embed``, ``clip_score``).

    Config: ``model`` (open_clip name), ``pretrained`` (tag, local checkpoint path, or
    null for random weights), ``clip_config`` (open_clip JSON config file or folder to
    register first), ``device`` (null: CUDA when available). Missing weights are a
    ValueError when the pipeline file is read; ``setup()`` loads the model once per actor
    and ``process`` runs a batch of one.
    """

    uses_model = True
    model: str = "ViT-B-32"
    pretrained: str | None = "laion2b_s34b_b79k"
    clip_config: str | None = None
    device: str | None = None
    _clip: object = PrivateAttr(None)

    @model_validator(mode="after")
    def _clip_weights(self) -> "ClipModelStage":
        try:
            clip.check(self.model, self.pretrained, self.clip_config)
        except WeightsMissing as exc:
            raise ValueError(str(exc)) from None
        return self

    def setup(self) -> None:
        self._clip = clip.ClipEmbedder(self.model, self.pretrained, self.clip_config, self.device)

    def process(self, task: ClipTask) -> ClipTask:
        return self.process_batch([task])[0]


class ClipEmbedStage(ClipModelStage):
    """See module docstring. Config: the model's (:class:`ClipModelStage`), ``frames``
    per clip, ``aesthetic_head`` (state-dict path), ``min_aesthetic``."""

    name = "clip_embed"
    stage: Literal["clip_embed"] = "clip_embed"
    resources: Resources = Field(default_factory=lambda: Resources(batch_size=16, concurrency=1))
    frames: int = Field(4, ge=1, le=64)
    aesthetic_head: str | None = None
    min_aesthetic: float | None = None
    _head: object = PrivateAttr(None)

    @model_validator(mode="after")
    def _head_weights(self) -> "ClipEmbedStage":
        if self.min_aesthetic is not None and self.aesthetic_head is None:
            raise ValueError("min_aesthetic needs aesthetic_head")
        try:
            if self.aesthetic_head is not None:
                aesthetic.load_head(self.aesthetic_head)
        except WeightsMissing as exc:
            raise ValueError(str(exc)) from None
        return self

    def setup(self) -> None:
        super().setup()
        self._head = aesthetic.load_head(self.aesthetic_head) if self.aesthetic_head else None

    def process_batch(self, tasks: list[ClipTask]) -> list[ClipTask]:
        """One model pass for every live clip of ``tasks``; a failing pass makes them
        ``stage_error`` rows."""
        if self._clip is None:
            self.setup()
        live = [t for t in tasks if not t.rejected]
        return run_batch(self.name, tasks, live, self._embed)

    def _embed(self, live: list[ClipTask]) -> None:
        picks = [t.frames[np.unique(np.linspace(0, len(t.frames) - 1, min(self.frames, len(t.frames)))
                                    .round().astype(int))] for t in live]
        vecs = clip.clip_vectors(self._clip, picks)
        scores = aesthetic.score(self._head, vecs) if self._head is not None else [None] * len(live)
        for t, v, a in zip(live, vecs, scores):
            t.record.clip_embedding = clip.pack(v)
            if a is not None:
                t.record.scores.aesthetic = round(float(a), 4)
                if self.min_aesthetic is not None and a < self.min_aesthetic:
                    reject_for(t, self.name, RejectError(
                        "low_aesthetic", f"aesthetic={a:.4g} < min_aesthetic={self.min_aesthetic}"))
