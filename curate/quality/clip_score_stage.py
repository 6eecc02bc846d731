"""CLIP score stage (``stage: clip_score``): agreement of each kept clip with its caption.

Runs after captioning, on kept clips: the cosine between the clip's open_clip image
embedding (``record.clip_embedding``, from a ``clip_embed`` stage with the same model)
and the text embedding of its caption (:func:`curate.shards.caption_text` with
``variant``, ``short`` by default: CLIP reads 77 tokens) is ``scores.clip_score``
(Hessel et al., "CLIPScore", 2021, without their 2.5 weight). ``min_clip_score`` drops
clips below it (``caption_mismatch``), so mismatched captions can be filtered. A clip
without an embedding or a caption keeps ``clip_score`` None. Captions go through the
text tower in batches; the model is loaded once per actor.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from curate.quality import clip
from curate.quality.clip_stage import ClipModelStage
from curate.shards import caption_text
from curate.stage import RejectError, Resources, reject_for, run_batch
from curate.tasks import ClipTask


class ClipScoreStage(ClipModelStage):
    """See module docstring. Config: the model's (:class:`~curate.quality.clip_stage.ClipModelStage`;
    use ``clip_embed``'s model), ``variant`` (caption text to score), ``min_clip_score``
    (cosine, -1..1; null = keep all)."""

    name = "clip_score"
    stage: Literal["clip_score"] = "clip_score"
    resources: Resources = Field(default_factory=lambda: Resources(batch_size=64, concurrency=1))
    variant: Literal["short", "long", "signals", "text"] = "short"
    min_clip_score: float | None = Field(None, ge=-1, le=1)

    def process_batch(self, tasks: list[ClipTask]) -> list[ClipTask]:
        """Score every live clip that has an embedding and a caption, one text pass."""
        if self._clip is None:
            self.setup()
        live = [t for t in tasks if not t.rejected and t.record.clip_embedding and caption_text(t.record, self.variant)]
        return run_batch(self.name, tasks, live, self._score)

    def _score(self, live: list[ClipTask]) -> None:
        vecs = np.stack([clip.unpack(t.record.clip_embedding) for t in live])
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12
        scores = clip.caption_scores(self._clip, vecs, [caption_text(t.record, self.variant) for t in live])
        for t, s in zip(live, scores):
            t.record.scores.clip_score = round(float(s), 4)
            if self.min_clip_score is not None and s < self.min_clip_score:
                reject_for(t, self.name, RejectError(
                    "caption_mismatch", f"clip_score={s:.4g} < min_clip_score={self.min_clip_score}"))
