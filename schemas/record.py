"""The clip record: the one contract between curation and training.

Declared once here and versioned with :data:`SCHEMA_VERSION`. The Arrow schema of
``index.parquet`` and ``rejects.parquet`` is derived from these models by
:func:`schemas.arrow.arrow_schema`, and every shard sample's ``<key>.json`` is
``ClipRecord.model_dump_json()``. The trainer parses the same ``.json`` back with
:meth:`ClipRecord.model_validate_json`.

The record is composed of small groups (source facts, span, encoded clip, scores,
signals, caption) rather than one flat class with dozens of optional fields
(the shape cosmos-curate's ``data_model.py`` grew into and DESIGN.md warns against).

Units: times in seconds, rates in frames per second, sizes in pixels or bytes as
named. Frame indices count decoded frames from the start of the source (0-based);
``end_frame`` is exclusive.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.7"  # 1.7: ClipVideo.distinct_frames; 1.6: Scores.change; 1.5: ClipRecord.picture_share; 1.4: Scores.clipped_fraction, Scores.focus; 1.1: SourceInfo picture facts (sar, colour, field order); 1.2: camera-fit confidence, subject motion; 1.3: ClipRecord.dedup_signature/clip_embedding, Scores.text_area/nsfw/aesthetic/clip_score


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceInfo(_Model):
    """Container and video-stream facts of a source video, from the probe stage.

    ``duration_s`` is the video stream's duration from its timestamps (audio tracks
    that run longer do not count). ``fps`` is the average rate; ``vfr`` is true when
    frame intervals vary by more than a few percent. ``rotation`` is the display
    rotation in degrees counter-clockwise (0, 90, 180, 270) that upright output applies,
    followed by a left-right mirror when ``hflip`` (a display matrix with a mirror, read
    as FFmpeg's autorotate does); ``width``/``height`` are as displayed (after that rotation). ``timestamps_reset``:
    the timestamps went backwards or repeated (joined files), so times are shifted to
    keep increasing and spans are extracted by a pass from the start, not a seek.
    ``stream_index``: the container stream decoded (cover art and still-image tracks are
    skipped, :func:`curate.codec.streams.pick_video_stream`). ``partial``: decoding failed
    part-way, so only the first ``num_frames`` of ``probed_frames`` (the video packets the
    probe counted) were kept; ``rejects.parquet`` has a ``partially_decoded`` row for the rest.
    Picture facts: ``width`` is the display width, the coded width times ``sar`` (the
    coded pixels' aspect ``num:den``; clips have square pixels); ``color_range`` is
    ``tv`` (limited), ``pc`` (full) or ``unknown`` (decoded as limited);
    ``color_primaries``/``color_transfer`` are FFmpeg's names (``bt709``, ``bt2020``,
    ``smpte2084``, ``arib-std-b67``, ``unknown``, ...); ``field_order`` is ``progressive``,
    ``tt``/``bb``/``tb``/``bt`` (interlaced, as the stream declares), ``interlaced`` (frames
    flagged) or ``unknown``; interlaced sources are deinterlaced (:mod:`curate.codec.interlace`).
    """

    path: str
    source_id: str = Field(description="content fingerprint: hash of size and sampled bytes")
    size_bytes: int
    duration_s: float
    fps: float
    vfr: bool = False
    num_frames: int = Field(description="frames that decode (counted when the container does not say)")
    width: int
    height: int
    rotation: int = 0
    hflip: bool = False
    codec: str
    pix_fmt: str = ""
    has_audio: bool = False
    stream_index: int = 0
    probed_frames: int | None = None
    partial: bool = False
    sar: str = "1:1"
    color_range: str = "unknown"
    color_primaries: str = "unknown"
    color_transfer: str = "unknown"
    field_order: str = "unknown"
    timestamps_reset: bool = False


class Span(_Model):
    """A time range of a source that becomes one clip.

    ``shot_index`` numbers the shots of the source found by the split stage;
    ``window_index`` numbers the windows a long shot was cut into (0 when it was not).
    Frames ``[start_frame, end_frame)`` in decode order; times are the presentation
    timestamps of ``start_frame`` and of the frame after the last one.
    """

    shot_index: int
    window_index: int = 0
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float

    @property
    def num_frames(self) -> int:
        """Source frames in the span."""
        return self.end_frame - self.start_frame

    @property
    def duration_s(self) -> float:
        """Span length in seconds."""
        return self.end_s - self.start_s


class ClipVideo(_Model):
    """The encoded clip file: H.264, yuv420p, upright, even width and height. ``fps`` is
    above 0 and ``duration_s`` at least 0, both finite: a record claiming 0, NaN or
    infinite rates (a damaged or hand-edited shard) does not validate, so readers skip its
    sample (the trainer had divided by it and stopped)."""

    num_frames: int
    fps: float = Field(gt=0, allow_inf_nan=False)
    width: int
    height: int
    duration_s: float = Field(ge=0, allow_inf_nan=False)
    codec: str = "h264"
    pix_fmt: str = "yuv420p"
    size_bytes: int = 0
    distinct_frames: int | None = Field(None, ge=0, description=(
        "frames whose picture differs from the one before (the first counts; curate.repeats: a mean luma "
        "change at the clip's size of at least REPEAT_LEVEL and of a share of the clip's 90th percentile change); "
        "fewer than num_frames where frames repeat, as in a copy whose frame rate was raised by repeating "
        "frames or a still scene; None in records made before it was counted"))


class Scores(_Model):
    """Per-clip quality scores; ``None`` where a scorer did not run.

    - ``motion``: mean optical-flow magnitude, in frame widths per second.
    - ``sharpness``: variance of the Laplacian of the frame sample (short side 224).
    - ``focus``: the same over the picture's own luma variance, x 1000: unchanged by gain
      or exposure, so a dark but sharp clip scores as sharp.
    - ``luma_mean``: mean BT.601 luma, 0..255.
    - ``black_fraction``: share of sampled frames whose mean luma is below the black level.
    - ``clipped_fraction``: share of the frame sample's pixels whose luma is blown out
      (at or above 250 of 255), 0..1.
    - ``change``: the largest change of any later motion-sample frame from the first,
      luma levels 0..255 (99th percentile of the absolute difference after a blur;
      :func:`curate.score.change`): about 1 for a still held as video even with grain,
      which the optical flow of ``motion`` reads as movement.
    - ``text_area``: mean share of the picture covered by text boxes (PP-OCR detection; by
      default only boxes its recognition reads as text), 0..1.
    - ``nsfw``: highest NSFW detector confidence over the sampled frames (NudeNet), 0..1.
    - ``aesthetic``: LAION-style aesthetic score (MLP over CLIP image embeddings), ~1..10.
    - ``clip_score``: cosine of the clip's CLIP image embedding and its caption's text embedding.
    """

    motion: float | None = None
    sharpness: float | None = None
    focus: float | None = None
    luma_mean: float | None = None
    black_fraction: float | None = None
    clipped_fraction: float | None = None
    change: float | None = None
    text_area: float | None = None
    nsfw: float | None = None
    aesthetic: float | None = None
    clip_score: float | None = None


class MotionStep(_Model):
    """Global motion between two consecutive motion-sample frames, centred at ``t_s``.

    ``pan_x``/``pan_y``: camera motion of the frame centre, frame widths per second (positive =
    content moves right/down). ``zoom``: relative scale change per second (positive =
    content grows, camera zooms in). ``residual``: mean magnitude of flow not explained
    by the global model (object motion), frame widths per second. ``magnitude``: mean
    flow magnitude over the frame, frame widths per second. ``luma``: mean luma 0..255.
    ``t_s`` is relative to the clip start. From the robust camera fit
    (:mod:`curate.camfit`): ``inlier_share``, the share of the frame the camera model
    explains, and ``confidence`` 0..1 (None: not measured, a least-squares fit or an
    older record); ``subject_share``, the share of the frame moving against the camera,
    and ``subject_x``/``subject_y``, its mean motion in frame widths per second.
    """

    t_s: float
    pan_x: float
    pan_y: float
    zoom: float
    residual: float
    magnitude: float
    luma: float
    inlier_share: float | None = None
    confidence: float | None = None
    subject_share: float = 0.0
    subject_x: float = 0.0
    subject_y: float = 0.0


class CameraSegment(_Model):
    """A time segment of the clip with one camera-motion label and motion intensity.

    ``camera`` is ``unknown`` where the camera fit was too weak to label. ``subject``:
    how the moving region (objects moving against the camera) goes, ``none`` when under
    the noise floor, ``in_place`` when it moves without a net direction;
    ``subject_share``: its mean share of the frame, 0..1.
    """

    start_s: float
    end_s: float
    camera: Literal[
        "static", "pan_left", "pan_right", "tilt_up", "tilt_down", "zoom_in", "zoom_out", "unknown"
    ]
    intensity: Literal["still", "low", "moderate", "strong"]
    brightness: Literal["steady", "brightens", "darkens"] = "steady"
    subject: Literal["none", "in_place", "left", "right", "up", "down"] = "none"
    subject_share: float = 0.0


class CaptionEvent(_Model):
    """One thing that happens in the clip, from ``start_s`` to ``end_s`` (seconds from clip start)."""

    start_s: float
    end_s: float
    text: str


class Caption(_Model):
    """The clip's caption and where it came from.

    ``text`` is the main caption: the model's long caption when ``source == "model"``,
    the signal description when ``source == "signals"``. A vision-language captioner
    (:mod:`curate.captioning`) also fills ``short`` (one sentence), ``long`` and
    ``events`` (in time order), ``signals`` (the signal description it was given as
    hints), ``model_id``, ``prompt_version`` and ``generation`` (the generation settings
    used, as a JSON object string). When its output stayed degenerate after one retry,
    ``text`` falls back to the signal description, ``degenerate_reason`` is
    ``caption_degenerate`` and ``degenerate_detail`` names what was wrong (``empty``,
    ``refusal``, ``cut_off``, ``no_events``, ``wrong_language``, ``repeated_ngram``, ``prompt_echo``,
    ``unreadable``). When the model could
    not run on the clip at all (out of GPU memory even alone), ``degenerate_reason`` is
    ``caption_failed`` and ``degenerate_detail`` says why (``cuda_oom``).
    """

    text: str
    source: Literal["signals", "model"] = "signals"
    model_id: str | None = None
    prompt_version: str | None = None
    short: str | None = None
    long: str | None = None
    events: list[CaptionEvent] = Field(default_factory=list)
    signals: str | None = None
    generation: str | None = None
    degenerate_reason: Literal["caption_degenerate", "caption_failed"] | None = None
    degenerate_detail: str | None = None


class ClipRecord(_Model):
    """One clip: the row of ``index.parquet`` and the ``<key>.json`` of its shard sample.

    ``clip_id`` is the sample key: a content-addressed hex id (no dots) of the source
    fingerprint, the span and the settings that change the clip.
    ``phash`` is the clip's perceptual hash (hex) used by dedup; ``dedup_signature`` its
    edit-robust signature (:mod:`curate.dedup.signature`; empty when not computed);
    ``clip_embedding`` its open_clip image embedding, base64 float16
    (:func:`curate.quality.clip.pack`; empty without a ``clip_embed`` stage);
    ``picture_share``: the share of the clip's frame inside letterbox and pillarbox bars
    (black or flat pads alike on opposite sides), 0..1 (:func:`curate.embed.picture_share`
    on the frame sample, set by the embed stage; None without one): dedup keeps the copy
    that shows the most picture (:func:`curate.dedup.stage.keep_key`).
    ``duplicate_of`` names the kept clip of a near-duplicate group (set on dropped
    duplicates only).
    ``shard`` is the shard file name, set when the clip is written.
    The bulky vectors (:data:`VECTOR_FIELDS`) live in ``index.parquet`` beside the
    records, not in every shard sample's ``.json`` (:meth:`sample_json`).
    """

    schema_version: str = SCHEMA_VERSION
    clip_id: str
    source: SourceInfo
    span: Span
    clip: ClipVideo
    scores: Scores = Field(default_factory=Scores)
    motion_track: list[MotionStep] = Field(default_factory=list)
    camera_segments: list[CameraSegment] = Field(default_factory=list)
    phash: str = ""
    dedup_signature: str = ""
    clip_embedding: str = ""
    picture_share: float | None = None
    duplicate_of: str | None = None
    caption: Caption | None = None
    shard: str | None = None

    def sample_json(self) -> bytes:
        """The ``<key>.json`` of the clip's shard sample: the record without
        :data:`VECTOR_FIELDS` (kilobytes per clip; they stay in ``index.parquet``)."""
        return self.model_dump_json(exclude=VECTOR_FIELDS).encode()


#: Record fields kept out of shard samples: the dedup signature (~6 KB) and the embedding.
VECTOR_FIELDS = frozenset({"dedup_signature", "clip_embedding"})
