"""Edit-robust clip signatures: small luma thumbnails over time, pads cropped.

A clip's signature is its motion sample (luma frames at about 4 fps, see
:mod:`curate.extract`) with the pads of letterboxed or pillarboxed copies (black bars, or
bars of any flat colour) cut off (:func:`curate.dedup.pads.content_box`), each frame resized to ``size x size`` pixels (48 by default),
at most ``max_frames`` frames evenly thinned in time. :mod:`curate.dedup.verify` compares
two signatures with a search over crop scale, position and time offset.

Thinned frames hold only some instants of a clip, and a copy that starts a fraction of
their spacing later (trimmed, re-cut, re-timed) holds others, where anything fast has
moved: at 12 frames an 8 s street-camera clip keeps one motion frame in 3 (0.72 s apart),
and its copy 0.3 s later is 0.16-0.28 from it (``bench/dedup_long.py``: recall 0.558
tuning, 0.674 test). Tried and not kept: 24 frames (every motion frame of clips up to
about 5-6 s) raised that to 0.642 and 0.748 with no false pair on the bench, but a break
test's sliding 3-10 s windows of the indoor camera (people walking one path) gave 137
false pairs among 15,973 with someone in view against 77 at 12, for 228 of 260 shifted
copies found against 217; means of neighbouring frames (a box filter over time) found
more (0.82-0.86) but paired the footage run's 10 s indoor windows and ASL ``yes``/``no``.

Why 48 and not 32: two signs of one signer in one room (ASL ``yes`` and ``no``: same
framing, the hand raised to a different height and shaped differently) differ in a hand
of about 10 x 10 pixels of a 128-pixel motion sample, 2 x 2 pixels of a 32-pixel
thumbnail; at 32 their distance (0.044) was below that of edited copies, at 48 (with the
motion term of :mod:`curate.dedup.verify` weighing 0.15) it is 0.063 for the whole clips
against at most 0.052 for the edited copies of the labelled set that are found.

In records it is a string ``"v1:<step ms>:<size>:<base64 float16 gist>,<aspect>:<base64 of
zlib(uint8 thumbnails)>"`` (aspect: the picture's width / height, for reframed copies,
:mod:`curate.dedup.reframe`) (:func:`encode`, :func:`decode`): about 14 KB (8-22 KB)
for 12 frames of 48x48 of real footage. The gist (:func:`gist`) comes first so that
candidate search reads it without decompressing the thumbnails (:func:`read_gist`).
Older vidcurate releases wrote ``"v1:<step ms>:<size>:<thumbnails>"``, without the gist
(and 32x32 thumbnails before 48): those are read too, their gist computed from the
thumbnails (an earlier run's index for ``--dedup-against``).
"""

from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from curate.dedup.pads import content_box

ASPECTS = (0.01, 100.0)
"""The widths / heights a signature keeps: a picture beyond them (a 640x6 strip, which
H.264 takes) is kept as the nearest end, so its record string stays readable
(:func:`aspect_of`): a run with such a source had stopped at its dedup phase."""


@dataclass
class Signature:
    """``thumbs``: ``(N, size, size) uint8`` luma thumbnails; ``step_s``: seconds between them;
    ``aspect``: width / height of the picture they were squeezed from (pads cut; None in
    signatures of vidcurate before it was kept)."""

    thumbs: np.ndarray
    step_s: float
    aspect: float | None = None


def make(luma: np.ndarray, times: list[float], size: int = 48, max_frames: int = 12) -> Signature:
    """The signature of a clip from its motion sample: ``(T, H, W) uint8`` luma at ``times``
    (seconds, evenly spaced); its aspect is the content box's, kept within :data:`ASPECTS`.
    Raises ValueError when there is no frame."""
    if len(luma) == 0:
        raise ValueError("no frames for a signature")
    y0, y1, x0, x1 = content_box(luma, detail=True)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.25
    stride = -(-len(luma) // max_frames)  # every stride-th frame: at most max_frames
    picked = luma[::stride, y0:y1, x0:x1]
    thumbs = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in picked])
    aspect = min(max((x1 - x0) / max(y1 - y0, 1), ASPECTS[0]), ASPECTS[1])  # a 640x6 strip: 100
    return Signature(thumbs, round(step * stride, 4), round(aspect, 3))


def encode(sig: Signature) -> str:
    """The record string of ``sig`` (see module docstring)."""
    n, size, _ = sig.thumbs.shape
    blob = base64.b64encode(zlib.compress(np.ascontiguousarray(sig.thumbs, np.uint8).tobytes(), 6))
    g = base64.b64encode(gist(sig).astype(np.float16).tobytes()).decode("ascii")
    if sig.aspect is not None:
        g += f",{sig.aspect:.3f}"
    return f"v1:{round(sig.step_s * 1000)}:{size}:{g}:{blob.decode('ascii')}"


GIST_LEN = 64  # values in a gist (8 x 8, :func:`gist`)


def _fields(text: str) -> tuple[int, int, str, str]:
    """``(step ms, thumbnail size, gist base64, thumbnails base64)`` of a record string;
    the gist is ``""`` in the older form ``"v1:<step ms>:<size>:<thumbnails>"`` (vidcurate
    before the gist joined it under the same tag), and its field may end in ``,<aspect>``
    (:func:`aspect_of`). Raises ValueError for another format."""
    parts = text.split(":", 4)
    if len(parts) == 4:
        parts.insert(3, "")
    elif len(parts) != 5:
        raise ValueError(f"{len(parts)} fields, not 5 (or 4 without the gist)")
    version, step_ms, size, g, blob = parts
    if version != "v1":
        raise ValueError(f"unknown signature version {version!r}")
    step, size = int(step_ms), int(size)
    if size < 1 or step < 0 or not blob:
        raise ValueError(f"step {step} ms, size {size}, {len(blob)} characters of thumbnails")
    return step, size, g, blob


def read_gist(text: str) -> tuple[int, np.ndarray]:
    """``(thumbnail size, (64,) float32 gist)`` of a record string, without decoding the
    thumbnails (but for the older form without a gist: computed from them, :func:`gist`,
    about 150 us where reading one takes 2). Raises ValueError for a damaged string."""
    try:
        _, size, g, _ = _fields(text)
        g = g.partition(",")[0]
        if g:
            out = np.frombuffer(base64.b64decode(g, validate=True), dtype=np.float16).astype(np.float32)
            if len(out) != GIST_LEN or not np.isfinite(out).all():
                raise ValueError(f"a gist of {len(out)} values, not {GIST_LEN} finite ones")
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"bad dedup signature: {exc}") from exc
    return (size, out) if g else (size, gist(decode(text)))


def check(text: str) -> None:
    """Raise ValueError for a record string that is not one :func:`encode` writes (or its
    older form without the gist), as far as is seen without inflating its thumbnails
    (the fields, the gist, the thumbnails' base64 length): microseconds a string, where
    :func:`decode` takes a hundred or more."""
    try:
        _, _, g, blob = _fields(text)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"bad dedup signature: {exc}") from exc
    if g:
        read_gist(text)
        aspect_of(text)
    if len(blob) % 4:
        raise ValueError("bad dedup signature: the thumbnails' base64 is cut short")


def decode(text: str) -> Signature:
    """Inverse of :func:`encode`. Raises ValueError for another format or a damaged string."""
    try:
        step_ms, size, g, blob = _fields(text)
        raw = np.frombuffer(zlib.decompress(base64.b64decode(blob)), dtype=np.uint8)
        return Signature(raw.reshape(-1, size, size), step_ms / 1000, aspect_of(text) if "," in g else None)
    except (ValueError, TypeError, AttributeError, zlib.error) as exc:
        raise ValueError(f"bad dedup signature: {exc}") from exc


def aspect_of(text: str) -> float | None:
    """The picture's width / height kept in a record string (:class:`Signature`), without
    decoding its thumbnails, within :data:`ASPECTS`; None for signatures written before it
    was kept. Raises ValueError for a damaged string or an aspect that is no positive
    number."""
    try:
        _, _, g, _ = _fields(text)
        _, comma, value = g.partition(",")
        if not comma:
            return None
        aspect = float(value)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"bad dedup signature: {exc}") from exc
    if not (aspect > 0 and math.isfinite(aspect)):
        raise ValueError(f"bad dedup signature: aspect {aspect}")
    # a strip's aspect as vidcurate before the clamp wrote it (640x6: 106.667), in a
    # resumed run's commits or an earlier run's index: read within ASPECTS, as now written
    return min(max(aspect, ASPECTS[0]), ASPECTS[1])


def gist(sig: Signature, size: int = 8) -> np.ndarray:
    """``(size*size,) float32`` unit vector of the mean thumbnail's central part, mean removed:
    what candidate clusters (:mod:`curate.dedup.clusters`) are formed on."""
    return gist_of_mean(sig.thumbs.astype(np.float32).mean(axis=0), size)


def gist_of_mean(mean: np.ndarray, size: int = 8) -> np.ndarray:
    """:func:`gist` of a mean thumbnail ``(T, T) float32``."""
    m = mean.shape[0] // 10
    small = cv2.resize(mean[m:mean.shape[0] - m, m:mean.shape[1] - m], (size, size),
                       interpolation=cv2.INTER_AREA).ravel()
    small -= small.mean()
    return small / (np.linalg.norm(small) + 1e-3)
