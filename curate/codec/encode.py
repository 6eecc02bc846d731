"""H.264 clip encoding with PyAV (libx264 from the PyAV wheel; no system ffmpeg).

Output: MP4, yuv420p, even width and height, constant frame rate, ``+faststart``,
limited range with the source's matrix, tagged so from the first frame written
(:mod:`curate.codec.colour`), square pixels.
Reproducible bytes: the same frames and settings must give the same file on any
machine. The thread count is fixed at one (``threads=1``: x264's output depends on it,
and parallelism comes from encoding many clips at once), and x264's macroblock-tree
rate control is off (``mbtree=0``): with it on, this libx264 build gave a different
first encode in a fresh process for the same frames (measured; see
tests/curate/test_codec.py; checked again for issue 10: with mbtree on, a 12-frame clip
with ``rc-lookahead=10`` encoded differently the first time in a process, a sign of an
uninitialised read), at a cost measured on fixed-camera footage of 25 % more encode time
and 45-80 % larger clips at the same CRF.
The file is written under a temporary name of its own and renamed when complete.

On a GPU node the same clip can be written by NVENC (``h264_nvenc``; ``encoder=``,
:mod:`curate.codec.hwaccel`): same container, pixel format and colour tags, options
mapped from the x264 settings; its bytes differ from x264's and are reproducible only
on the same GPU generation and driver.
"""

from __future__ import annotations

import os
import uuid
from fractions import Fraction

import av
import numpy as np

from curate.codec.colour import (clip_matrix, rgb_to_clip_yuv, same_matrix, tag_clip_stream, to_clip_matrix,
                                 to_clip_yuv)
from curate.codec.errors import CodecError
from curate.codec.hwaccel import EncoderChoice, pick_encoder


def as_rate(fps: float) -> Fraction:
    """A frame rate as a Fraction, snapping NTSC-style rates (29.97 -> 30000/1001)."""
    frac = Fraction(fps).limit_denominator(1001)
    return frac if abs(float(frac) - fps) < 1e-3 else Fraction(round(fps * 1000), 1000)


class ClipWriter:
    """Write ``(H, W, 3) uint8`` RGB frames to an H.264 MP4 at a constant ``fps``.

    Use as a context manager; frames must all have the size given at construction
    (even width and height). ``num_frames`` counts frames written. On an exception
    inside the ``with`` block the temporary file is removed and nothing appears at
    ``path``. Raises :class:`CodecError` (``encode_error``) when the encoder fails.

    ``encoder``: a setting (``libx264``, the default: today's bytes; ``auto``/``nvenc``:
    NVENC when it works in this process, else libx264 with the reason logged) resolved
    by :func:`curate.codec.hwaccel.pick_encoder` from ``crf`` (0-51) and ``preset``
    (x264 names), or an :class:`~curate.codec.hwaccel.EncoderChoice` used as it is
    (no fallback: an NVENC that does not open is an ``encode_error``). ``choice``: the
    resolved encoder.
    """

    def __init__(self, path: str, width: int, height: int, fps: float, crf: int = 23,
                 preset: str = "veryfast", encoder: str | EncoderChoice = "libx264"):
        if width % 2 or height % 2:
            raise CodecError("encode_error", f"odd size {width}x{height}")
        # A name of its own: two workers may write the same clip (identical sources).
        self.path, self.tmp = path, f"{path}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part"
        self.width, self.height, self.rate = width, height, as_rate(fps)
        self.choice = encoder if isinstance(encoder, EncoderChoice) else pick_encoder(encoder, crf, preset)
        self.options = dict(self.choice.options)
        self.num_frames = 0
        self._matrix: int | None = None  # the stream's AVColorSpace, from its first frame
        self._container = None
        self._stream = None

    def __enter__(self) -> "ClipWriter":
        try:
            self._container = av.open(self.tmp, mode="w", format="mp4",
                                      options={"movflags": "+faststart"})
            stream = self._container.add_stream(self.choice.codec_name, rate=self.rate)
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.codec_context.time_base = 1 / self.rate
            stream.codec_context.options = self.options
            self._stream = stream
        except av.error.FFmpegError as exc:
            self._discard()
            raise CodecError("encode_error", str(exc)) from exc
        return self

    def write(self, image: np.ndarray | av.VideoFrame) -> None:
        """Encode one frame of the writer's size: ``(H, W, 3) uint8`` RGB, or an
        ``av.VideoFrame``: a ``yuv420p`` one is taken as a clip frame (limited range:
        :func:`curate.codec.colour.to_clip_yuv`), any other is converted so. The first
        frame's colour tags become the stream's; a later frame of another matrix (a
        broadcast that switches from BT.601 to BT.709 inside a shot) is converted to the
        stream's (:func:`curate.codec.colour.to_clip_matrix`): it had been written as it
        was and shown with the first frame's matrix, 20-40 levels off in saturated colours
        (a break test)."""
        if isinstance(image, av.VideoFrame):
            size = (image.height, image.width)
            frame = image if image.format.name == "yuv420p" else to_clip_yuv(image, image.width, image.height)
        else:
            size = image.shape[:2]
            frame = None
        if size != (self.height, self.width):
            raise CodecError("encode_error", f"frame {size} != {self.height}x{self.width}")
        if frame is None:
            frame = rgb_to_clip_yuv(image)
        if self.num_frames == 0:
            tag_clip_stream(self._stream.codec_context, frame)
            self._matrix = clip_matrix(frame.colorspace)
        elif not same_matrix(clip_matrix(frame.colorspace), self._matrix):
            frame = to_clip_matrix(frame, self._matrix)
        frame.pts = self.num_frames
        frame.time_base = 1 / self.rate
        # A decoded frame keeps its source's picture type (I/P/B), and libx264 obeys it:
        # clips would copy the source's GOP (measured: 30-50 % larger at the same CRF, and
        # bytes that depended on the decode path). The encoder chooses for itself.
        frame.pict_type = av.video.frame.PictureType.NONE
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except av.error.FFmpegError as exc:  # the encoder opens on the first frame
            raise CodecError("encode_error", f"{self.choice.codec_name}: {exc}") from exc
        self.num_frames += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._discard()
            return
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        except av.error.FFmpegError as err:
            self._discard()
            raise CodecError("encode_error", str(err)) from err
        os.replace(self.tmp, self.path)

    def _discard(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except av.error.FFmpegError:
                pass  # closing a broken container; the file is removed below
        if os.path.exists(self.tmp):
            os.remove(self.tmp)
