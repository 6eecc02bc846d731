"""Thumbnail strips for the report: 3 frames of a clip, small, as an inline JPEG data URI.

Where the frames come from, first found wins:

- kept clip: its encoded mp4 in the work folder (``work/clips/<id>.mp4``), else the
  ``<id>.mp4`` member of its shard; decoded with PyAV (:func:`train.video_io.decode_frames`).
- dropped clip: its frame sample (``work/clips/<id>.frames.npz``, JPEG frames saved by
  the extract stage), else its mp4, else the source span decoded at low resolution
  (shots dropped before extraction, e.g. ``too_short``).
- a source rejected as a whole has no frames; the tile says so.

Everything is read through the output store (:mod:`curate.store`), so a bucket works
like a folder. Each strip is ``THUMB_H`` pixels high (frames at most ``THUMB_W`` wide):
a few KB, so a page of a few hundred tiles stays small.
"""

from __future__ import annotations

import base64
import io
import os
import tarfile
import zipfile

import av
import numpy as np
from PIL import Image

from curate import store
from curate.extract import clip_path, frames_path

THUMB_H, THUMB_W, FRAMES, QUALITY = 90, 160, 3, 72
MAX_SOURCE_FRAMES = 3000  # a source span decode gives up after this many frames


def strip(frames: list[np.ndarray]) -> bytes:
    """JPEG of ``frames`` (each ``(H, W, 3) uint8`` RGB) side by side, each scaled to
    ``THUMB_H`` pixels high (at most ``THUMB_W`` wide), 2-pixel gaps. Raises ValueError
    when ``frames`` is empty."""
    if not frames:
        raise ValueError("no frames for a strip")
    tiles = []
    for img in frames:
        h, w = img.shape[:2]
        tw = max(2, min(THUMB_W, round(w * THUMB_H / h)))
        tiles.append(Image.fromarray(np.ascontiguousarray(img)).resize((tw, THUMB_H), Image.BILINEAR))
    out = Image.new("RGB", (sum(t.width for t in tiles) + 2 * (len(tiles) - 1), THUMB_H), (255, 255, 255))
    x = 0
    for t in tiles:
        out.paste(t, (x, 0))
        x += t.width + 2
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=QUALITY)
    return buf.getvalue()


def data_uri(jpeg: bytes) -> str:
    """``data:image/jpeg;base64,...`` for an ``<img src>``."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _pick(n: int, k: int = FRAMES) -> list[int]:
    return sorted(set(np.linspace(0, max(0, n - 1), min(k, max(n, 1))).round().astype(int).tolist()))


def mp4_frames(data: bytes) -> list[np.ndarray]:
    """Up to 3 frames (first, middle, last) of an mp4 held in memory, decoded with PyAV at
    ``THUMB_H`` pixels high: a list of ``(THUMB_H, W, 3) uint8`` RGB. Raises av.FFmpegError
    (or ValueError) when it does not decode."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        n = stream.frames or sum(1 for _ in container.demux(stream) if _.size)
        if not stream.frames:
            container.seek(0)
        wanted, out = set(_pick(n)), []
        for i, frame in enumerate(container.decode(stream)):
            if i in wanted:
                out.append(_small(frame))
            if i >= max(wanted):
                break
        return out


def _small(frame: av.VideoFrame) -> np.ndarray:
    w = max(2, min(THUMB_W, round(frame.width * THUMB_H / max(frame.height, 1))))
    return frame.to_ndarray(width=w, height=THUMB_H, format="rgb24")


def sample_frames(data: bytes) -> list[np.ndarray]:
    """Up to 3 frames of a frame sample saved by :func:`curate.frames_io.save_frames`
    (``.npz`` bytes: JPEG frames, no pickle), as ``(H, W, 3) uint8`` RGB."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        blob, offsets = z["data"], z["offsets"]
    n = len(offsets) - 1
    return [np.asarray(Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB"))
            for i in _pick(n)] if n > 0 else []


def shard_member(location: str, name: str) -> bytes | None:
    """Bytes of member ``name`` of the tar at ``location`` (None when absent)."""
    fs, path = store.filesystem(location)
    with fs.open(path, "rb") as f, tarfile.open(fileobj=f, mode="r:") as tf:
        try:
            member = tf.getmember(name)
        except KeyError:
            return None
        return tf.extractfile(member).read()


def span_frames(source: str, start_s: float, end_s: float) -> list[np.ndarray]:
    """Up to 3 frames of ``source`` between ``start_s`` and ``end_s`` (seconds), decoded
    with PyAV at low resolution (rotation metadata is not applied). Local path or URL."""
    targets = list(np.linspace(start_s, end_s, FRAMES))  # the last one: the span's last frame
    fs, path = store.filesystem(source)
    got: list[np.ndarray] = []
    last = None
    with fs.open(path, "rb") as f, av.open(f) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if start_s > 0:
            container.seek(int(start_s / stream.time_base), stream=stream, backward=True)
        for i, frame in enumerate(container.decode(stream)):
            t = frame.time if frame.time is not None else 0.0
            if t >= end_s - 1e-6 or i >= MAX_SOURCE_FRAMES:
                break
            while targets and t >= targets[0] - 1e-3:
                got.append(_small(frame))
                targets.pop(0)
            last = frame if t >= start_s - 1e-3 else last
            if not targets:
                break
    if targets and last is not None:
        got.append(_small(last))
    return got


def _try(fn, *args) -> list[np.ndarray]:
    try:
        return fn(*args)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, av.FFmpegError,
            tarfile.TarError):  # unreadable (e.g. a damaged frame sample): try the next place
        return []


def work_frames(root: str, clip_id: str) -> tuple[list[np.ndarray], str]:
    """Frames of a clip from the run's ``work/clips``: its saved frame sample (three JPEG
    frames, about 2 ms), else its mp4 (decoded up to its last frame, about 30 ms at
    256 px), with that label; ``([], "")`` when neither is there or reads."""
    work = store.join(root, "work")
    for location, read, label in ((frames_path(work, clip_id), sample_frames, "frame sample"),
                                  (clip_path(work, clip_id), mp4_frames, "clip mp4")):
        if store.exists(location):
            frames = _try(lambda: read(store.read_bytes(location)))
            if frames:
                return frames, label
    return [], ""


def kept_frames(root: str, clip_id: str, shard: str | None) -> tuple[list[np.ndarray], str]:
    """Frames of a kept clip and where they came from (``frame sample`` / ``clip mp4`` /
    ``shard``), or ``([], why)`` when none reads: :func:`work_frames` first (the report
    at the end of a run had waited 0.9 s on decoding its 24 kept clips' mp4s before the
    frame samples came first), the shard's mp4 once ``work/clips`` is gone."""
    frames, label = work_frames(root, clip_id)
    if frames:
        return frames, label
    if shard:
        data = _try(lambda: [shard_member(store.join(root, "shards", shard), f"{clip_id}.mp4")])
        frames = _try(mp4_frames, data[0]) if data and data[0] else []
        if frames:
            return frames, f"shard {shard}"
    return [], "no clip file in work/clips or its shard"


def dropped_frames(root: str, clip_id: str | None, source: str, span: tuple[float, float] | None
                   ) -> tuple[list[np.ndarray], str]:
    """Frames of a dropped source or clip and where they came from, or ``([], why)``."""
    if clip_id:
        frames, label = work_frames(root, clip_id)
        if frames:
            return frames, label
    if span is not None and source:
        frames = _try(span_frames, source, *span)
        if frames:
            return frames, "source span, decoded at low resolution"
        if "://" not in source and not os.path.exists(source):  # moved or deleted since the run (a walk-through)
            return [], f"no frames: {os.path.basename(source)} is no longer at {source}"
        return [], f"no frames: {os.path.basename(source)} could not be read for this span"
    return [], "no frames: the whole source was rejected before any clip was made"
