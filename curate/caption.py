"""Caption stage (signals): a temporally ordered description from measured signals.

Until a vision-language captioner is configured, every clip gets a description built
only from what was measured: camera motion per time segment, motion intensity and
brightness changes (:mod:`curate.camera`), e.g.
``"0.0-1.2 s: static camera, low motion, subject moves right (12% of frame); 1.2-3.0 s:
camera pans left, strong motion"``. It is stored with ``caption.source == "signals"`` so
nobody mistakes it for a model caption, and each segment is also a timed
``caption.events`` entry (as a model caption's events are), so timed events are found in
one place whatever the captioner.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from curate.camera import CameraThresholds, camera_segments
from curate.stage import Stage
from curate.tasks import ClipTask
from schemas import CameraSegment, Caption, CaptionEvent

_CAMERA = {
    "static": "static camera", "pan_left": "camera pans left", "pan_right": "camera pans right",
    "tilt_up": "camera tilts up", "tilt_down": "camera tilts down",
    "zoom_in": "camera zooms in", "zoom_out": "camera zooms out", "unknown": "camera motion unclear",
}
_INTENSITY = {"still": "almost no motion", "low": "low motion", "moderate": "moderate motion",
              "strong": "strong motion"}


def segment_text(seg: CameraSegment) -> str:
    """Words for one segment: ``"camera, intensity[, scene brightness][, subject moves way (n% of frame)]"``."""
    words = [_CAMERA[seg.camera], _INTENSITY[seg.intensity]]
    if seg.brightness != "steady":
        words.append(f"scene {seg.brightness}")
    if seg.subject != "none":
        way = "in place" if seg.subject == "in_place" else seg.subject
        words.append(f"subject moves {way} ({100 * seg.subject_share:.0f}% of frame)")
    return ", ".join(words)


def describe(segments: list[CameraSegment]) -> str:
    """One line per the module docstring: ``"a-b s: <segment text>; ..."`` (:func:`segment_text`)."""
    return "; ".join(f"{seg.start_s:.1f}-{seg.end_s:.1f} s: {segment_text(seg)}" for seg in segments)


def events(segments: list[CameraSegment]) -> list[CaptionEvent]:
    """One timed caption event per segment (seconds from the clip start, :func:`segment_text`)."""
    return [CaptionEvent(start_s=seg.start_s, end_s=seg.end_s, text=segment_text(seg)) for seg in segments]


class CaptionStage(Stage):
    """Fill ``record.camera_segments`` and a ``signals`` caption.

    Config: ``captioner`` (``signals``), ``pan_threshold`` (frame widths per second),
    ``zoom_threshold`` (per second), ``min_segment_s`` (seconds).
    """

    name = "caption"
    stage: Literal["caption"] = "caption"
    captioner: Literal["signals"] = "signals"
    pan_threshold: float = Field(0.04, gt=0)
    zoom_threshold: float = Field(0.04, gt=0)
    min_segment_s: float = Field(0.5, ge=0)

    def thresholds(self) -> CameraThresholds:
        """The camera-labelling thresholds from this stage's config."""
        return CameraThresholds(pan_threshold=self.pan_threshold, zoom_threshold=self.zoom_threshold,
                                min_segment_s=self.min_segment_s)

    def process(self, task: ClipTask) -> ClipTask:
        rec = task.record
        rec.camera_segments = camera_segments(rec.motion_track, rec.clip.duration_s, self.thresholds())
        rec.caption = Caption(text=describe(rec.camera_segments), source="signals",
                              events=events(rec.camera_segments))
        return task
