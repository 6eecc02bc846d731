"""Filter stage: drop clips whose scores fall outside thresholds from the pipeline file.

Every threshold is optional (None = not applied). A dropped clip keeps all its scores
in its ``rejects.parquet`` row, with the first failing check as the reason and the
value and threshold in ``detail``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from curate.stage import RejectError, Stage
from curate.tasks import ClipTask

# (config field, score name, "min" or "max", reject reason)
CHECKS = (
    ("min_motion", "motion", "min", "low_motion"),
    ("min_change", "change", "min", "low_motion"),
    ("max_motion", "motion", "max", "high_motion"),
    ("min_sharpness", "sharpness", "min", "blurry"),
    ("min_luma", "luma_mean", "min", "too_dark"),
    ("max_luma", "luma_mean", "max", "too_bright"),
    ("max_black_fraction", "black_fraction", "max", "black_frames"),
    ("max_clipped_fraction", "clipped_fraction", "max", "overexposed"),
)


class FilterStage(Stage):
    """Threshold the scores of :class:`curate.score.ScoreStage`.

    Config: ``min_motion``/``max_motion`` (frame widths per second), ``min_change`` (luma
    levels: a clip whose picture never changes by more, :func:`curate.score.change`, is
    ``low_motion`` too: a still held as video with grain, whose flow ``motion`` reads
    as movement),
    ``min_sharpness`` (Laplacian variance) and ``sharp_focus`` (a clip under
    ``min_sharpness`` whose focus, the Laplacian variance over the picture's own variance x
    1000 (:func:`curate.score.focus`), is at least this is sharp all the same: dark footage,
    whose Laplacian variance falls with the square of its gain), ``min_luma``/``max_luma`` (0..255),
    ``max_black_fraction`` and ``max_clipped_fraction`` (0..1). Rejects with ``low_motion``,
    ``high_motion``, ``blurry``, ``too_dark``, ``too_bright``, ``black_frames`` or ``overexposed``.
    """

    name = "filter"
    fusable = True  # pure function of the clip task: run by the one-decode pass (pipelines.plan.fusable)
    stage: Literal["filter"] = "filter"
    min_motion: float | None = Field(None, ge=0)
    min_change: float | None = Field(None, ge=0, le=255)
    max_motion: float | None = Field(None, ge=0)
    min_sharpness: float | None = Field(None, ge=0)
    sharp_focus: float | None = Field(None, ge=0)
    min_luma: float | None = Field(None, ge=0, le=255)
    max_luma: float | None = Field(None, ge=0, le=255)
    max_black_fraction: float | None = Field(None, ge=0, le=1)
    max_clipped_fraction: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _check_ranges(self) -> "FilterStage":
        for low, high in (("min_motion", "max_motion"), ("min_luma", "max_luma")):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{low} ({a}) must not exceed {high} ({b}): every clip would be dropped")
        return self

    def process(self, task: ClipTask) -> ClipTask:
        scores = task.record.scores
        for key, score, kind, reason in CHECKS:
            limit = getattr(self, key)
            value = getattr(scores, score)
            if limit is None or value is None:
                continue
            if key == "min_sharpness" and self._sharp_in_the_dark(scores):
                continue
            if (kind == "min" and value < limit) or (kind == "max" and value > limit):
                raise RejectError(reason, f"{score}={value:.4g} {'<' if kind == 'min' else '>'} {key}={limit}")
        return task

    def _sharp_in_the_dark(self, scores) -> bool:
        """Whether ``scores.focus`` reaches ``sharp_focus`` (a low sharpness from low contrast)."""
        return self.sharp_focus is not None and scores.focus is not None and scores.focus >= self.sharp_focus
