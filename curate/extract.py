"""Extract stage: decode a span once, encode the clip, keep small frame and motion samples.

One sequential PyAV pass over ``[start_s, end_s)`` at the target size feeds three
consumers (frames go from the decoder to yuv420p at the clip size in one swscale pass
and into the encoder without a NumPy copy; only sampled frames are converted to RGB): the H.264 writer (:class:`curate.codec.ClipWriter`), the frame sample
(``sample_frames`` frames evenly spaced, short side <= ``sample_short_side``) and the
motion sample (luma frames at ``motion_fps``, short side ``motion_short_side``) that
the score stage turns into optical flow.

Picture: frames are deinterlaced first when the source is interlaced (``bwdif``,
:mod:`curate.codec.interlace`), then scaled to the display aspect with square pixels
(``source.width`` is the display width) and converted to limited range whatever the
source's range, keeping its matrix (:mod:`curate.codec.colour`); samples are taken from
those frames, so scores see the source's true colours.

Frame rate: the output is constant-rate at ``min(source fps, max_fps)`` (the span's own
rate where it is clearly higher than the source's: :func:`curate.timegrid.clip_rate`); source frames
are mapped onto that time grid like FFmpeg's ``fps`` filter (each output time takes the
last source frame at or before it), which also turns variable-rate sources into CFR.

Memory: frames are decoded one at a time and resized by swscale before they reach
NumPy, so a pass holds the decoder's reference frames, one frame at the clip size and
the two samples; extracting 10 s of 1080p grew peak RSS by about 25 MB (bound checked
in tests/curate/test_hostile.py: 600 MB), however long the span.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Annotated, ClassVar, Literal

import cv2
import numpy as np
from av.video.reformatter import VideoReformatter
from pydantic import Field, PrivateAttr

from curate import store
from curate.codec import ClipWriter, DecodedFrame, iter_frames, scaled_size
from curate.codec.colour import SWS_THREAD_PIXELS, sws_threads
from curate.codec.hwaccel import EncoderChoice, nvenc_verdict, pick_decoder, pick_encoder
from curate.frames_io import save_frames
from curate.guard import Limits
from curate.repeats import DistinctFrames
from curate.stage import RejectError, Stage
from curate.tasks import ClipTask
from curate.timegrid import clip_rate, grid_frames, resample
from schemas import ClipRecord, ClipVideo

MAX_CLIP_SIDE = 16384  # pixels: libx264 (and NVENC) refuse a wider or taller picture


def _small(img: np.ndarray, short_side: int, gray: bool = False) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(1.0, short_side / min(h, w))
    out = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) if s < 1 else img
    return cv2.cvtColor(out, cv2.COLOR_RGB2GRAY) if gray else out


class ExtractStage(Stage):
    """Encode one span to ``<work_dir>/clips/<clip_id>.mp4`` (in the output store) and fill ``task.record``.

    Config: ``short_side`` (pixels of the encoded clip; never upscaled), ``max_fps``,
    ``crf`` and ``preset`` (libx264), ``sample_frames``, ``sample_short_side``,
    ``motion_fps``, ``motion_short_side``. Only the first four change the clip's bytes
    and enter the clip id (:meth:`clip_settings`), and the encoder when it is not libx264.
    ``decoder`` (``auto``/``cpu``/``nvdec``) and ``encoder`` (``auto``/``libx264``/``nvenc``):
    GPU decode/encode where it works, by the rule of :mod:`curate.codec.hwaccel`; the GPU
    is considered only when the stage has a GPU share (``resources: {gpus: ...}``: Ray
    hides GPUs from tasks without one). The encoder is resolved once, where
    :meth:`clip_settings` is first called (the driver, for the clip ids), and pinned:
    workers encode with it, and a worker where a pinned NVENC does not open fails the
    clip with ``stage_error`` rather than write x264 bytes under an NVENC clip id.

    Rejects ``decode_error``/``truncated`` when the span yields no frame and
    ``encode_error`` when writing fails.
    """

    name = "extract"
    stage: Literal["extract"] = "extract"
    limits: Limits | None = Field(default_factory=lambda: Limits())
    short_side: int = Field(256, ge=16)
    max_fps: float = Field(24.0, gt=0)
    crf: int = Field(23, ge=0, le=51)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "veryfast"
    decoder: Literal["auto", "cpu", "nvdec"] = "auto"
    encoder: Literal["auto", "libx264", "nvenc"] = "auto"
    _encoder: EncoderChoice | None = PrivateAttr(None)  # pinned by encoder_choice()
    sample_frames: int = Field(8, ge=1, le=64)
    sample_short_side: int = Field(224, ge=16)
    motion_fps: float = Field(4.0, gt=0)
    motion_short_side: int = Field(128, ge=16)
    one_pass: bool = Field(True, description="decode each source once for split and extract "
                           "(curate.onepass); false: the split pass, then one decode per span")
    spill_max_mb: int = Field(16384, ge=0, description="one_pass: sources whose clip-size frames "
                              "would take more scratch disk than this (MB) take the per-span path")
    spill_memory_mb: float = Field(128.0, ge=0, description="one_pass: clip-size frames held in "
                                   "memory (MB) before the rest go to scratch disk")
    encode_threads: int = Field(2, ge=1, le=64, description="one_pass: clips of one source encoded at "
                                "once (each encoder single-threaded: the bytes do not change)")
    decode_threads: Annotated[int, Field(ge=0, le=64, strict=True)] | Literal["auto"] = Field(
        "auto", description="one_pass: FFmpeg decoder threads per pass (0: FFmpeg's own count, one per "
        "CPU; 1: no decoder thread and single-threaded scaling, less CPU where every core is busy; "
        "auto: 1 for sources under 1280x720, else 0: decode_threads_for)")
    encode_ahead: bool = Field(True, description="one_pass: encode the shots whose boundaries have "
                               "settled while the decode goes on, checked against the final spans "
                               "(curate.speculate); the clips do not change")

    RUN_ONLY: ClassVar[frozenset] = frozenset({"one_pass", "spill_max_mb", "spill_memory_mb", "encode_threads",
                                               "encode_ahead", "decoder", "encoder", "decode_threads"})  # how, not what

    def settings(self) -> dict:
        """The configuration that shapes the output (see :meth:`curate.stage.Stage.settings`);
        the :data:`RUN_ONLY` fields (one-decode settings, ``decoder``) change only how the
        work is done, not its result; the resolved encoder enters through :meth:`clip_settings`."""
        return {k: v for k, v in super().settings().items() if k not in self.RUN_ONLY} | self.clip_settings()

    def __call__(self, task: ClipTask) -> ClipTask:
        if task.record is not None:  # already extracted by the one-decode pass (curate.onepass)
            return task
        return super().__call__(task)

    def clip_settings(self) -> dict:
        """Settings that change the encoded clip (part of every clip id); ``encoder`` only
        when the resolved encoder (:meth:`encoder_choice`) is not libx264."""
        out = {"short_side": self.short_side, "max_fps": self.max_fps, "crf": self.crf, "preset": self.preset}
        if self.encoder_choice().name != "libx264":
            out["encoder"] = self.encoder_choice().name
        return out

    def decode_threads_for(self, src) -> int:
        """FFmpeg decoder threads for the one-decode pass of a probed source
        (:class:`schemas.SourceInfo`; ``width`` x ``height``: its display size in square
        pixels): ``decode_threads`` when it is a number; ``auto``: 1 for a source of fewer
        pixels than 1280x720 (:data:`curate.codec.colour.SWS_THREAD_PIXELS`, where
        swscale's threads start too), else 0 (FFmpeg's own count). Frame threads cost CPU
        to buy decode speed: on the footage (all under 720p) one thread each made the run
        4 % faster with every core busy, while a lone 1080p source needs the threads (its
        pass 22 % slower on one). The choice depends on the source alone, never on the
        run. An intact source decodes to the same frames either way. Around damage in a
        broken file, FFmpeg's frame-threaded error concealment differs from a single
        thread's and can differ between two threaded decodes of the same file (a break
        test: 6 decodes, 6 results), so only a source decoded on one thread (under 720p
        with ``auto``, any source with ``1``) gets the same clip bytes from every run."""
        if self.decode_threads != "auto":
            return self.decode_threads
        return 1 if src.width * src.height < SWS_THREAD_PIXELS else 0

    def decoder_setting(self) -> str:
        """The ``decoder`` for :func:`curate.codec.iter_frames`: ``cpu`` without a GPU share
        (an explicit ``nvdec`` then logs the fallback and its reason, once per process, as
        the encoder's does); with one, the setting, resolved where frames are decoded."""
        if self.resources.gpus:
            return self.decoder
        if self.decoder == "nvdec":
            pick_decoder(self.decoder, self.gpu_ruled_out())  # logs the fallback; always the CPU here
        return "cpu"

    def codecs(self) -> dict[str, str]:
        """What a run records of its codecs (``manifest.json``): the encoder every clip is
        written with (pinned here, with the reason) and the decoder setting the workers
        resolve (``cpu`` without a GPU share)."""
        choice = self.encoder_choice()
        return {"encoder": choice.name, "encoder_reason": choice.reason, "decoder": self.decoder_setting()}

    def gpu_ruled_out(self) -> str | None:
        """Why the GPU codec paths are not considered (no GPU share), or None."""
        return None if self.resources.gpus else "the extract stage has no GPU share (resources: {gpus: ...})"

    def encoder_choice(self) -> EncoderChoice:
        """The encoder, resolved on first call in this process and pinned (travels with
        the stage to workers); a worker where a pinned NVENC does not open raises RuntimeError."""
        if self._encoder is None:
            self._encoder = pick_encoder(self.encoder, self.crf, self.preset, self.gpu_ruled_out())
        elif self._encoder.name == "nvenc" and nvenc_verdict():
            raise RuntimeError(f"clip ids name nvenc but it does not open in this worker ({nvenc_verdict()}); "
                               "give extract a GPU share and limits.memory_mb for CUDA, or set encoder: libx264")
        return self._encoder

    def process(self, task: ClipTask) -> ClipTask:
        """Extract into node-local scratch (deleted after), then upload the clip and its
        frame sample to the output store (:func:`clip_path`, :func:`frames_path`)."""
        with tempfile.TemporaryDirectory(prefix="vidcurate-extract-") as scratch:
            return publish(self._extract(task, scratch), scratch)

    def clip_size(self, src) -> tuple[int, int]:
        """``(width, height)`` in pixels of the clips of a probed source (:class:`schemas.SourceInfo`):
        short side ``short_side`` (never upscaled), display aspect, even numbers."""
        return scaled_size(src.width, src.height, self.short_side)

    def size_problem(self, src) -> str | None:
        """Why no clip of a probed source can be encoded, or None: a side of :meth:`clip_size`
        over :data:`MAX_CLIP_SIDE`, which H.264 encoders refuse (a 320x180 picture with a
        pixel aspect of 100:1 is 32000x180 at the clip size). The detail of a
        ``bad_aspect_ratio`` reject row."""
        w, h = self.clip_size(src)
        if max(w, h) <= MAX_CLIP_SIDE:
            return None
        return (f"the clip would be {w}x{h} px (display aspect {w / h:.3g} from {src.width}x{src.height}); "
                f"H.264 takes at most {MAX_CLIP_SIDE} px a side")

    def _extract(self, task: ClipTask, scratch: str) -> ClipTask:
        src, span = task.source, task.span
        decoded = iter_frames(src.path, size=self.clip_size(src), fmt="yuv420p", rotation=src.rotation, hflip=src.hflip,
                              decoder=self.decoder_setting(),
                              start_s=span.start_s, end_s=span.end_s, seek=not src.timestamps_reset,
                              stream_index=src.stream_index, field_order=src.field_order)
        return self.encode_span(task, decoded, scratch)

    def encode_span(self, task: ClipTask, decoded: Iterator[DecodedFrame], scratch: str) -> ClipTask:
        """Encode ``task.span`` from ``decoded`` into ``<scratch>/clip.mp4`` and its frame
        sample into ``<scratch>/frames.npz``; fill ``task.record``, the frame and motion samples.

        ``decoded``: the span's frames in presentation order, ``yuv420p`` clip frames of
        :meth:`clip_size` (:func:`curate.codec.iter_frames` with ``fmt="yuv420p"``) with
        times in seconds from the source's start, none before ``span.start_s`` or at or
        after ``span.end_s``. They are mapped onto the clip's constant-rate grid
        (:func:`curate.timegrid.resample`). Raises :class:`RejectError` (``truncated``) when no frame
        comes and :class:`curate.codec.CodecError` (``encode_error``) when writing fails.
        """
        src, span = task.source, task.span
        fps = clip_rate(src.fps, span, self.max_fps)
        width, height = self.clip_size(src)
        n_out = grid_frames(span.duration_s, fps)  # never past max_clip_s (by more than 1 ms)
        sample_idx = set(np.linspace(0, n_out - 1, min(self.sample_frames, n_out)).round().astype(int).tolist())
        motion_step = max(1, int(round(fps / self.motion_fps)))
        frames, frame_times, motion, motion_times = [], [], [], []
        path = os.path.join(scratch, "clip.mp4")
        to_rgb = VideoReformatter()  # one swscale context for the span's sampled frames
        distinct = DistinctFrames()
        with ClipWriter(path, width, height, fps, self.crf, self.preset, encoder=self.encoder_choice()) as writer:
            for k, frame in resample(decoded, span.start_s, span.end_s, fps):
                writer.write(frame)
                distinct.add(frame)
                if k not in sample_idx and k % motion_step:
                    continue
                img = to_rgb.reformat(frame, format="rgb24", threads=sws_threads(frame)).to_ndarray()  # only sampled frames leave YUV
                if k in sample_idx:
                    frames.append(_small(img, self.sample_short_side))
                    frame_times.append(round(k / fps, 6))
                if k % motion_step == 0:
                    motion.append(_small(img, self.motion_short_side, gray=True))
                    motion_times.append(round(k / fps, 6))
            if writer.num_frames == 0:
                raise RejectError("truncated", "the span decodes to no frame")
        task.frames, task.frame_times = np.stack(frames), frame_times
        task.motion, task.motion_times = np.stack(motion), motion_times
        save_frames(os.path.join(scratch, "frames.npz"), task.frames, frame_times)
        video = ClipVideo(num_frames=writer.num_frames, fps=round(fps, 6), width=width, height=height,
                          duration_s=round(writer.num_frames / fps, 6), size_bytes=os.path.getsize(path),
                          distinct_frames=distinct.count)
        task.record = ClipRecord(clip_id=task.clip_id, source=src, span=span, clip=video)
        return task


def publish(task: ClipTask, scratch: str) -> ClipTask:
    """Upload ``<scratch>/clip.mp4`` and ``<scratch>/frames.npz`` of an extracted clip to
    the output store (:func:`clip_path`, :func:`frames_path`). Returns ``task``."""
    store.upload(os.path.join(scratch, "clip.mp4"), clip_path(task.work_dir, task.clip_id))
    store.upload(os.path.join(scratch, "frames.npz"), frames_path(task.work_dir, task.clip_id))
    return task


def clip_path(work_dir: str, clip_id: str) -> str:
    """Where the extract stage puts a clip's mp4 (a store location under ``work_dir``)."""
    return store.join(work_dir, "clips", f"{clip_id}.mp4")


def frames_path(work_dir: str, clip_id: str) -> str:
    """Where the extract stage puts a clip's frame sample (a store location under ``work_dir``)."""
    return store.join(work_dir, "clips", f"{clip_id}.frames.npz")
