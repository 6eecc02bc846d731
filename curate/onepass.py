"""One decode per source: shot detection, clip encoding and samples fed by the same frames.

The split stage needs every frame of a source (shot boundaries), and the extract stage
needs every frame of every span (the clip). Decoding the source once for detection and
again, span by span, for extraction doubles the most expensive work of the per-source
phase and seeks once per clip. Here one sequential PyAV pass decodes each frame once,
deinterlaces it when the source is interlaced, and scales and converts it once (swscale)
to the clip's size, range and matrix (:func:`curate.codec.iter_frames` with
``fmt="yuv420p"``). Each such clip frame

- is shrunk to the split stage's detection size (``detect_width``, BGR) and fed to the
  shot detector (:class:`curate.split.shots.ShotDetector`), and
- is kept, as its raw ``yuv420p`` planes, in memory up to ``extract.spill_memory_mb``
  and beyond that in a spill file on node-local scratch disk
  (:class:`curate.spill.FrameSpill`; ``W * H * 1.5`` bytes a frame, about 175 KB at
  456x256).

Threads: the decode, deinterlace, scaling and the spill run on a thread of their own
(:func:`curate.spill.read_ahead`; FFmpeg releases the GIL) while the caller's thread
shrinks each frame and runs the shot detector; ``extract.encode_threads`` encoder
threads work beside them (x264 releases the GIL too).

Shots are final only once the whole source has been seen (dissolves, flashes and the
minimum shot length look both ways). With ``extract.encode_ahead`` (the default) the
shots whose boundaries have settled are planned and encoded while the decode goes on
(:mod:`curate.speculate`); at the end the split stage plans the final spans
(:meth:`curate.split.SplitStage.finish`), an encode made ahead serves a final span only
when its frames, times and rate are the same, and every other span's frames are read
back from the spill and encoded then by :meth:`curate.extract.ExtractStage.encode_span`,
with the frame and motion samples taken on the way. The plain CPU clip stages that
follow extract (``score``: :func:`pipelines.plan.fusable`, passed as
``OnePassJob.then``) run on each clip right after its encode, on the encoder threads, so
a long source's clips leave the pass scored. Each finished clip task is pickled to a
node-local folder (:class:`OnePassJob`) for the plan to hand on one by one. The clips
are byte-identical to those of the per-span path (same frames, same encoder settings),
so clip ids, sample keys and shards do not change.

Bounds: the pass runs in one sandbox call per source (:mod:`curate.guard`) with the
split and extract limits added (time scaled by the source's length, see
:func:`curate.passfit.limits_for`), so a hung or crashing decoder or encoder costs its own source only.
Memory stays at the decoded frames queued between the threads (32 clip frames), the
detector's thumbnails, the encoders' clips and ``spill_memory_mb`` of held frames; the
rest of the spill is on disk and deleted with the scratch folder. A source whose spill
would exceed ``extract.spill_max_mb`` takes the per-span path instead
(:func:`curate.passfit.fits_one_pass`); its split still sees this pass's detection frames
(:func:`split_only`), so its spans are the ones the one-decode path would plan.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from av.video.reformatter import VideoReformatter

from curate.codec import DecodedFrame, iter_frames
from curate.codec.colour import sws_threads
from curate.extract import ExtractStage, publish
from curate.timegrid import clip_rate
from curate.ids import clip_id
from curate.speculate import Speculator, dump_clip, load_clip
from curate.spill import FrameSpill, read_ahead
from curate.split import SplitStage
from curate.stage import reject_for
from curate.tasks import ClipTask, SourceTask

_EPS = 1e-4  # seconds; the same tolerance as iter_frames' start_s/end_s window


@dataclass
class OnePassJob:
    """One source's pass: the probed ``task`` and the configured stages.

    ``settings``: the extract stage's clip settings (part of every clip id). ``out_dir``:
    a folder on this node where each finished clip task is written as a pickle, so a
    source of hundreds of clips never holds all their samples (about 3 MB a clip) in
    memory or in one message; its files are listed in ``clip_files``, in span order. None:
    the tasks are kept in ``clips``. ``then``: clip stages run on each clip right after
    its encode, on the encoder threads (:func:`pipelines.plan.fusable`: e.g. score).
    ``drop_samples``: ``then`` ends the source's clip stages, so after it each clip's frame
    and motion samples (already in the store) are dropped and only metadata leaves the
    pass (about 3 MB less per clip through the pickles and Ray's object store).
    """

    task: SourceTask
    split: SplitStage
    extract: ExtractStage
    settings: dict
    out_dir: str | None = None
    then: list = field(default_factory=list)  # fused clip stages run on each clip (pipelines.plan.fusable)
    drop_samples: bool = False  # no clip stage after ``then``: drop frame and motion samples
    clips: list[ClipTask] = field(default_factory=list)
    clip_files: list[str] = field(default_factory=list)


def detect_pass(src, split: SplitStage, extract: ExtractStage, spill: FrameSpill | None = None, tick=None):
    """The one decode of a probed source (:class:`schemas.SourceInfo`): every frame at the
    clip size (``extract.clip_size``), shrunk to the detection size (never upscaled) and
    fed to ``split``'s shot detector; each clip frame is appended to ``spill`` when given.

    Returns ``(detector, times, reset, failed, breaks)`` for
    :meth:`curate.split.SplitStage.finish`: the fed :class:`curate.split.shots.ShotDetector`,
    frame times (seconds), whether timestamps were shifted, ``(error, t_s)`` of a decode
    that failed part-way, and the indices of frames at a discontinuity (a clock restart, a
    change of picture shape: :attr:`curate.codec.decode.DecodedFrame.discontinuity`).
    ``tick(detector, times)``, when given, is called after each frame is fed (the
    speculative encodes of :class:`curate.speculate.Speculator`). The decoder runs on
    :meth:`curate.extract.ExtractStage.decode_threads_for` threads (0: FFmpeg's own count).
    ``bench/split_accuracy.py`` scores this same pass. Raises
    :class:`curate.codec.CodecError` when no frame decodes.
    """
    width, height = extract.clip_size(src)
    dw, dh = split.detect_size(src)
    dw, dh = min(dw, width), min(dh, height)
    detector = split.shot_detector(src.fps)
    times: list[float] = []
    reset, failed, breaks = False, [], []
    shrink, to_bgr = VideoReformatter(), VideoReformatter()  # one swscale context each for the pass
    frames = iter_frames(src.path, size=(width, height), fmt="yuv420p", rotation=src.rotation, hflip=src.hflip,
                         stream_index=src.stream_index, field_order=src.field_order,
                         decoder=extract.decoder_setting(), on_error=lambda e, t: failed.append((e, t)),
                         threads=extract.decode_threads_for(src))
    for frame in read_ahead(frames, spill):
        # Scaled in YUV, then converted: the two steps of the split stage's own decode
        # (curate.codec.iter_frames with fmt="bgr24"), so both paths feed the same pixels.
        small = shrink.reformat(frame.image, width=dw, height=dh, interpolation="AREA", threads=sws_threads(frame.image))
        detector.feed(to_bgr.reformat(small, format="bgr24", threads=sws_threads(small)).to_ndarray())
        if frame.discontinuity:
            breaks.append(len(times))
        times.append(frame.t_s)
        reset |= frame.shifted
        if tick is not None:
            tick(detector, times)
    return detector, times, reset, failed, breaks


def split_only(job: OnePassJob) -> OnePassJob:
    """Split ``job.task`` without extracting: the per-span path of a source that does not
    fit the one-decode path (:func:`curate.passfit.fits_one_pass`). The detector gets the frames
    :func:`detect_pass` gives the one-decode path (deinterlaced, scaled to the clip size,
    then shrunk), so both paths find the same boundaries and plan the same spans; the
    split stage's own decode (:meth:`curate.split.SplitStage.process`, straight to the
    detection size) differs from them by a level or so, which moved a borderline cut.
    Returns ``job`` with ``job.task`` split and ``timings["split"]`` (seconds). Raises as
    :meth:`curate.split.SplitStage.finish` and :func:`detect_pass` do."""
    start = time.perf_counter()
    detector, times, reset, failed, breaks = detect_pass(job.task.source, job.split, job.extract)
    job.task = job.split.finish(job.task, detector, times, reset, failed, breaks)
    job.task.timings[job.split.name] = time.perf_counter() - start
    return job


def _span_frames(spill: FrameSpill, times: list[float], span):
    """The spill's frames with ``span.start_s <= t < span.end_s`` as :class:`DecodedFrame`s."""
    lo = int(np.searchsorted(times, span.start_s - _EPS, side="left"))
    hi = int(np.searchsorted(times, span.end_s - _EPS, side="left"))
    for k, i in enumerate(range(lo, hi)):
        yield DecodedFrame(k, times[i], spill.frame(i))


def _keep(job: OnePassJob, clip: ClipTask) -> None:
    if job.out_dir is None:
        job.clips.append(clip)
        return
    path = os.path.join(job.out_dir, f"{len(job.clip_files):06d}.pkl")
    with open(path, "wb") as f:
        pickle.dump(clip, f, protocol=pickle.HIGHEST_PROTOCOL)
    job.clip_files.append(path)


def _clip_task(job: OnePassJob, source, span) -> ClipTask:
    task = job.task
    return ClipTask(source=source, span=span, work_dir=task.work_dir, source_path=task.path,
                    clip_id=clip_id(task.source.source_id, span.start_frame, span.end_frame, job.settings),
                    n_in_source=len(task.spans))


def _extract_one(job: OnePassJob, spill: FrameSpill, times: list[float], scratch: str, span) -> ClipTask:
    clip, extract = _clip_task(job, job.task.source, span), job.extract
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(dir=scratch) as out:
            clip = publish(extract.encode_span(clip, _span_frames(spill, times, span), out), out)
    except Exception as exc:  # noqa: BLE001 - this clip's reject row; the others go on
        reject_for(clip, extract.name, exc)
    clip.timings[extract.name] = time.perf_counter() - start
    return _then(job, clip)


def _then(job: OnePassJob, clip: ClipTask) -> ClipTask:
    """Run the job's fused clip stages (``then``, e.g. score) on a fresh clip."""
    for stage in job.then:
        clip = stage(clip)
    if job.drop_samples:
        clip.drop_arrays()
    return clip


def _encode_ahead(job: OnePassJob, spill: FrameSpill, scratch: str, span, times: list[float],
                  fps: float) -> str:
    """A speculative encode (:mod:`curate.speculate`) of ``span`` at output rate ``fps`` into
    its own folder under ``scratch``; returns the pickled clip task's path. Raises what
    encoding raises."""
    start = time.perf_counter()
    out = tempfile.mkdtemp(dir=scratch, prefix="ahead-")
    source = job.task.source.model_copy(update={"fps": fps})  # the rate so far; checked at the end
    clip = job.extract.encode_span(_clip_task(job, source, span), _span_frames(spill, times, span), out)
    clip.timings[job.extract.name] = time.perf_counter() - start
    return dump_clip(_then(job, clip), out)


def _start_final(job: OnePassJob, spill, times, scratch, spec: Speculator, span):
    """For a final span: the path of the matching clip task encoded ahead, else a future
    of a new encode on the pass's encoder threads."""
    path = spec.take(span, clip_rate(job.task.source.fps, span, job.extract.max_fps))
    return path if path is not None else spec.pool.submit(_extract_one, job, spill, times, scratch, span)


def _ahead_clip(job: OnePassJob, path: str, span) -> ClipTask:
    """The clip task encoded ahead at ``path``, given the final record and span, uploaded."""
    clip = load_clip(path, job.task.source, span, len(job.task.spans))
    if clip.clip_id != _clip_task(job, job.task.source, span).clip_id:
        raise RuntimeError(f"speculative clip {clip.clip_id} does not match its span")
    return publish(clip, os.path.dirname(path))


def _extract(job: OnePassJob, spill: FrameSpill, times: list[float], scratch: str, spec: Speculator) -> None:
    """Encode every final span not already encoded ahead (:mod:`curate.speculate`) on the
    pass's encoder threads (PyAV releases the GIL while x264 works; each encoder is
    single-threaded, so bytes do not depend on this), keeping the clip tasks in span order.
    One finished clip task (about 3 MB of samples) is in memory at a time, besides those
    the encoders are making."""
    pending = [(span, _start_final(job, spill, times, scratch, spec, span)) for span in job.task.spans]
    for k, (span, item) in enumerate(pending):
        pending[k] = None  # let the clip task go once it is kept
        _keep(job, item.result() if isinstance(item, Future) else _ahead_clip(job, item, span))


def run_one_pass(job: OnePassJob) -> OnePassJob:
    """Split and extract one probed source from a single decode (module docstring).

    Returns ``job`` with ``job.task`` split (spans, reject rows, decoded frame count,
    ``timings["split"]``: seconds of decoding and detection) and one :class:`ClipTask`
    per span in ``job.clips`` (or pickled in ``job.out_dir``, listed in
    ``job.clip_files``), extracted and uploaded (``record``, frame and motion samples,
    ``timings["extract"]``: seconds of encoding), or with its reject row when that span
    failed. Raises :class:`curate.stage.RejectError` or
    :class:`curate.codec.CodecError` when the source itself fails (``truncated``,
    ``no_shots``, ``decode_error``, ...).
    """
    start = time.perf_counter()
    src, extract = job.task.source, job.extract
    with tempfile.TemporaryDirectory(prefix="vidcurate-onepass-") as scratch, \
            ThreadPoolExecutor(max_workers=extract.encode_threads) as pool:
        spill = FrameSpill(os.path.join(scratch, "frames.yuv"), *extract.clip_size(src),
                           memory_mb=extract.spill_memory_mb)
        spec = Speculator(lambda span, times, fps: _encode_ahead(job, spill, scratch, span, times, fps),
                          job.split, src.fps, extract.max_fps, pool)
        try:
            detector, times, reset, failed, breaks = detect_pass(
                src, job.split, extract, spill, tick=spec.advance if extract.encode_ahead else None)
            job.task = job.split.finish(job.task, detector, times, reset, failed, breaks)
            job.task.timings[job.split.name] = time.perf_counter() - start
            _extract(job, spill, times, scratch, spec)
        finally:
            for _, future in spec.jobs.values():
                future.cancel()
            pool.shutdown(wait=True)
            spill.release()
    return job
