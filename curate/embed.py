"""Embed stage: a perceptual hash for every clip, from the frame sample.

The hash feeds near-duplicate detection (:mod:`curate.dedup`). A learned embedding
(open_clip) is the next step once weights are configured; the hash always exists.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from curate.phash import clip_phash
from curate.stage import Stage
from curate.tasks import ClipTask


class EmbedStage(Stage):
    """Set ``record.phash`` from ``hash_frames`` frames of the frame sample (256 bits each)."""

    name = "embed"
    stage: Literal["embed"] = "embed"
    hash_frames: int = Field(4, ge=1, le=16)

    def process(self, task: ClipTask) -> ClipTask:
        task.record.phash = clip_phash(task.frames, self.hash_frames)
        return task
