"""Embed stage: a perceptual hash and an edit-robust signature for every clip.

Both feed near-duplicate detection (:mod:`curate.dedup`). Black bars (letterbox,
pillarbox) are cut off first (:func:`curate.dedup.pads.content_box`), so a padded
re-upload hashes like its source. The pHash (:mod:`curate.phash`) comes from the frame
sample; the signature (:mod:`curate.dedup.signature`) from the motion sample (luma at a
few fps), or from the frame sample's luma when there is no motion sample.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from curate.dedup import signature
from curate.dedup.pads import bt601_luma, paired, picture_box
from curate.phash import clip_phash
from curate.stage import Stage
from curate.tasks import ClipTask


def picture_share(box: tuple[int, int, int, int], h: int, w: int, fill: bool = False) -> float:
    """Share of an ``h x w`` frame (pixels) inside its letterbox and pillarbox bars or its
    blurred fill, 0..1: the content box ``(y0, y1, x0, x1)``
    (:func:`curate.dedup.pads.content_box`) counted along an axis only where its pads on
    the two sides are alike (within 2 % of the side, at least 2 pixels), as bars are; a
    flat sky or a dark ground cut from one side only is picture. A box inside a blurred
    fill (``fill``: :func:`curate.dedup.pads.picture_box`) counts whole, the picture
    set off the middle too. Rounded to 4 decimals."""
    y0, y1, x0, x1 = box
    rows, cols = (y1 - y0, x1 - x0) if fill else paired(box, h, w)
    return round(rows * cols / (h * w), 4)


class EmbedStage(Stage):
    """Set ``record.phash`` (``hash_frames`` frames of the frame sample, 256 bits each, black
    bars cut off), ``record.picture_share`` (the share of the frame inside those bars) and
    ``record.dedup_signature`` (``signature_size`` square thumbnails, at
    most ``signature_frames``; ``signature: false`` leaves it empty)."""

    name = "embed"
    fusable = True  # pure function of the clip task: run by the one-decode pass (pipelines.plan.fusable)
    stage: Literal["embed"] = "embed"
    hash_frames: int = Field(4, ge=1, le=16)
    signature: bool = True
    signature_size: int = Field(48, ge=8, le=64)
    signature_frames: int = Field(12, ge=1, le=64)

    def process(self, task: ClipTask) -> ClipTask:
        (y0, y1, x0, x1), fill = picture_box(task.frames)
        task.record.picture_share = picture_share((y0, y1, x0, x1), *task.frames.shape[1:3], fill=fill)
        task.record.phash = clip_phash(task.frames[:, y0:y1, x0:x1], self.hash_frames)
        if self.signature:
            if task.motion is not None and len(task.motion):
                luma, times = task.motion, task.motion_times
            else:
                luma, times = bt601_luma(task.frames), task.frame_times
            sig = signature.make(luma, list(times), self.signature_size, self.signature_frames)
            task.record.dedup_signature = signature.encode(sig)
        return task
