"""Split stage: one cheap decode at reduced size -> shot boundaries -> clip spans.

The pass decodes every frame once at ``detect_width`` (FFmpeg swscale), feeds the shot
detector (:mod:`curate.split.shots`: PySceneDetect, or TransNetV2 on 48x27 copies of the
same frames) and records each frame's presentation time, so spans and frame counts come
from what actually decodes, not from the container's claims. The same frames give flash
suppression and gradual transitions (:mod:`curate.split.flashes`,
:mod:`curate.split.transitions`): dissolve and fade frames belong to no clip. Spans follow
:func:`curate.split.spans.plan_spans`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from curate.codec import CodecError, iter_frames, scaled_size
from curate.codec.probe import index_claim
from curate.codec.timestamps import frame_rate
from curate.split.shots import ShotDetector
from curate.split.spans import plan_spans
from curate.guard import Limits
from curate.stage import RejectError, Stage
from curate.tasks import SourceTask


class SplitStage(Stage):
    """Find shots and plan clip spans for a probed source.

    Config (seconds unless noted): ``detector`` (``adaptive`` | ``content`` | ``transnetv2``),
    ``threshold`` (detector threshold; None = the detector's default), ``device`` and
    ``batch`` (TransNetV2 only),
    ``min_content_val``, ``fade_threshold`` (luma 0-255 for fade-to-black boundaries;
    None disables), ``min_shot_s``, ``gradual``, ``max_transition_s``, ``flash_s``,
    ``blank_std`` (see the fields), ``detect_width`` (pixels of the detection decode),
    ``min_clip_s``, ``max_clip_s``, ``trim_s``. Time and memory limits of the decode
    come from the stage's ``limits`` (:mod:`curate.guard`).

    Sets ``task.spans`` and ``task.frame_times``; spans dropped as too short become
    ``too_short`` reject rows. Updates ``source.num_frames``/``duration_s`` to what
    decodes. Rejects the source with ``truncated`` when no frame decodes. When decoding
    fails part-way (a corrupt middle or tail), clips come from the frames before the
    failure, ``source.partial`` is set and a ``partially_decoded`` row records the part
    lost (:func:`partial_row`).
    """

    name = "split"
    stage: Literal["split"] = "split"
    limits: Limits | None = Field(default_factory=lambda: Limits())
    detector: Literal["adaptive", "content", "transnetv2"] = "adaptive"
    threshold: float | None = Field(None, gt=0)
    device: str = Field("auto", description="transnetv2: auto (GPU when present) | cpu | cuda[:i]")
    batch: int = Field(8, ge=1, description="transnetv2: 100-frame windows per forward pass")
    min_content_val: float = Field(15.0, ge=0)
    fade_threshold: float | None = Field(12.0, ge=0, le=255)
    min_shot_s: float = Field(0.5, gt=0)
    gradual: bool = Field(True, description="find cross-dissolves and fades to any flat colour; "
                          "their frames go to no clip (curate.split.transitions)")
    max_transition_s: float = Field(2.0, gt=0, description="longest dissolve or fade leg looked for, seconds")
    flash_s: float = Field(0.25, ge=0, description="a brightness flash up to this long (seconds) inside "
                           "one shot is no boundary (curate.split.flashes); 0 keeps every cut")
    blank_std: float | None = Field(2.0, ge=0, description="thumbnail luma std (0-255) of a flat frame; runs of "
                                    "blank ones (flat, no dim picture persisting: curate.split.blanks) "
                                    "longer than flash_s go to no clip; null disables")
    detect_width: int = Field(256, ge=32)
    min_clip_s: float = Field(2.0, gt=0)
    max_clip_s: float = Field(10.0, gt=0)
    trim_s: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _check_lengths(self) -> "SplitStage":
        if self.min_clip_s > self.max_clip_s:
            raise ValueError(f"min_clip_s ({self.min_clip_s}) must not exceed max_clip_s ({self.max_clip_s})")
        return self

    def shot_detector(self, fps: float) -> ShotDetector:
        """A :class:`curate.split.shots.ShotDetector` with this stage's settings for a source at ``fps``
        (frames per second); feed it the detection decode's ``(H, W, 3) uint8`` BGR frames."""
        return ShotDetector(fps, self.detector, self.threshold, self.min_content_val,
                            self.fade_threshold, self.min_shot_s, self.gradual,
                            self.max_transition_s, self.flash_s, self.blank_std, self.device, self.batch)

    def detect_size(self, src) -> tuple[int, int]:
        """``(width, height)`` in pixels of the detection frames for a probed source
        (:class:`schemas.SourceInfo`): ``detect_width`` wide (never upscaled), display aspect."""
        w = min(self.detect_width, src.width)
        return scaled_size(w, max(2, round(src.height * w / src.width)), None)

    def process(self, task: SourceTask) -> SourceTask:
        """Split a probed source on its own decode, straight to the detection size
        (deinterlaced when the probe found it interlaced). A pipeline splits on the
        one-decode path's frames instead (:mod:`curate.onepass`: ``detect_pass``,
        ``split_only``), scaled to the clip size first: where a source is larger than the
        clip, a borderline boundary can differ between the two. Raises as :meth:`finish`."""
        src = task.source
        detector = self.shot_detector(src.fps)
        times: list[float] = []
        reset, breaks = False, []
        failed: list[tuple[Exception, float | None]] = []
        for frame in iter_frames(src.path, size=self.detect_size(src), fmt="bgr24", rotation=src.rotation, hflip=src.hflip,
                                 stream_index=src.stream_index, field_order=src.field_order,
                                 on_error=lambda e, t: failed.append((e, t))):
            detector.feed(frame.image)
            if frame.discontinuity:
                breaks.append(len(times))
            times.append(frame.t_s)
            reset |= frame.shifted
        return self.finish(task, detector, times, reset, failed, breaks)

    def finish(self, task: SourceTask, detector: ShotDetector, times: list[float], reset: bool,
               failed: list, breaks: list[int] = ()) -> SourceTask:
        """Turn a finished detection pass into spans (shared by :meth:`process` and the
        one-decode path of :mod:`curate.onepass`).

        ``detector`` has been fed every decoded frame; ``times``: each frame's time
        (seconds); ``reset``: some timestamps were shifted; ``failed``: ``(error, t_s)``
        of a decode that failed part-way (empty when it did not); ``breaks``: indices of
        frames at a discontinuity (:attr:`curate.codec.decode.DecodedFrame.discontinuity`:
        a clock that went back in joined recordings, a picture that changed shape), which
        split shots like cuts. Sets ``task.spans``,
        ``task.frame_times`` and the source's decoded ``num_frames``/``duration_s``/``fps``.
        Raises :class:`RejectError` (``truncated``, ``no_shots``).
        """
        src = task.source
        if not times:
            raise RejectError("truncated", "no frame decodes")
        bounds = detector.boundaries()
        end = _decoded_end(src, times, reset, failed)
        rate = frame_rate(times)  # not frames / end: a late first frame or lost frames lowered that
        expected, failed = _cut_short(task.path, src, times, end, failed)
        task.source = src.model_copy(update={"num_frames": len(times), "duration_s": round(end, 6),
                                             "timestamps_reset": reset,
                                             "partial": bool(failed) and len(times) < expected.num_frames,
                                             "fps": round(rate, 6) if rate else src.fps})
        kept, short = plan_spans(sorted({*bounds.cuts, *breaks}), times, end, min_clip_s=self.min_clip_s,
                                 max_clip_s=self.max_clip_s, trim_s=self.trim_s, gaps=bounds.gaps)
        if not kept and not short:
            raise RejectError("no_shots", "every frame is blank or inside a transition")
        task.spans, task.frame_times = kept, times
        if task.source.partial:
            task.rejects.append(partial_row(task, expected, failed[0][0], end))
        for span in short:
            task.rejects.append(_short_row(task, span, self.min_clip_s, self.trim_s))
        return task


def _decoded_end(src, times: list[float], reset: bool, failed: list) -> float:
    """End (seconds, on the axis of ``times``) of a source's decoded frames: the last
    frame's time plus a typical interval (the median one; one frame: 1 / ``src.fps``), or
    the probe's end (``times[0] + src.duration_s``) where that lies clearly later and the
    decode is the probe's frames exactly (as many, no shifted timestamps, no failure): a
    held last frame whose packet declares its own duration (:func:`curate.codec.probe`;
    a GIF's last frame shown for 0.5 s where the others last 20 ms)."""
    gaps = np.diff(times)
    typical = float(np.median(gaps)) if len(gaps) else 1.0 / src.fps
    end = times[-1] + typical
    probed = times[0] + src.duration_s
    if not failed and not reset and len(times) == src.num_frames and probed > end + typical / 2:
        return probed
    return end


def _cut_short(path: str, src, times: list[float], end_s: float, failed: list) -> tuple:
    """``(expected, failed)`` for :meth:`SplitStage.finish`: the probed source and the
    decode's failures as they are, unless the decode ended quietly inside an MP4/MOV cut
    short whose index lists more frames than decoded, or a Matroska/WebM file cut short or
    damaged inside whose header states a longer duration (:func:`curate.codec.probe.index_claim`):
    then the source as its index describes it and a ``truncated`` failure at ``end_s``, so
    the lost part gets its ``partially_decoded`` row like a decode that failed part-way.
    A decode that failed part-way in such a file (its last packet cut in the middle) is the
    same cut: its row had covered only the packets the probe found before the cut, 0.72 to
    0.84 s of a 3 s file (a break test), so the index's count wins there too."""
    try:
        claim = index_claim(path, src.stream_index, held_s=max(end_s, src.duration_s))
    except CodecError:
        return src, failed
    if claim is None or claim.frames <= max(len(times), src.num_frames if failed else 0):
        return src, failed
    expected = src.model_copy(update={"num_frames": claim.frames, "duration_s": claim.seconds or src.duration_s})
    at = failed[0][1] if failed and failed[0][1] is not None else end_s
    how = "damaged inside" if claim.damaged else "cut short"
    return expected, [(CodecError("truncated", f"the file is {how}: {claim.said}"), at)]


def partial_row(task: SourceTask, probed, error: Exception, end_s: float):
    """The ``partially_decoded`` reject row of a source whose decode failed part-way.

    ``probed``: the :class:`schemas.SourceInfo` before the split pass (its ``num_frames``
    and ``duration_s`` are what the probe counted); ``end_s``: seconds, end of the last
    good frame. The row's span is the part lost: frames ``[decoded, probed)`` and times
    ``[end_s, probed duration)``; ``shot_index`` is -1 (the part is no shot).
    """
    from schemas import RejectRecord, Span

    n, expected = task.source.num_frames, probed.num_frames
    lost_end = max(probed.duration_s, end_s)
    span = Span(shot_index=-1, start_frame=n, end_frame=expected, start_s=round(end_s, 6),
                end_s=round(lost_end, 6))
    detail = (f"decoded {n} of {expected} frames ({expected - n} lost); decoding failed after "
              f"{end_s:.3f} s of {probed.duration_s:.3f} s: {error}")
    return RejectRecord(source_path=task.path, source_id=task.source.source_id, stage="split",
                        reason="partially_decoded", detail=detail, span=span,
                        duration_s=round(lost_end - end_s, 6))


def _short_row(task: SourceTask, span, min_clip_s: float, trim_s: float = 0.0):
    """The ``too_short`` row of a dropped shot or remainder; a shot that trimming left empty
    says so (a break test: its row had read "0.000 s < 2.0 s" on an empty span)."""
    from schemas import RejectRecord

    detail = f"{span.duration_s:.3f} s < {min_clip_s} s"
    if span.end_frame <= span.start_frame:
        detail = (f"nothing is left of the shot once trim_s ({trim_s:g} s) is cut at its "
                  f"boundaries (min_clip_s {min_clip_s:g} s)")
    return RejectRecord(source_path=task.path, source_id=task.source.source_id, stage="split",
                        reason="too_short", detail=detail, span=span, duration_s=span.duration_s)
