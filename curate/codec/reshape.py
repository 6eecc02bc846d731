"""Pictures whose display shape changes partway through a stream.

A broadcast or IPTV capture switches between 16:9 and 4:3 (a programme, then adverts), by
a new picture size (768x432 -> 576x432) or a new pixel aspect at the same size (720x576,
SAR 64:45 -> 16:15). A decode pass scales every frame to one clip size, taken from the
start of the stream, so the 4:3 part had come out stretched to 16:9 (a break test).

:class:`PictureShape` follows each frame's display aspect against the stream's start
(the codec parameters read when the file was opened: the picture size and pixel aspect
of its first frames). A frame whose display aspect differs from it by more than
:data:`TOLERANCE` is fitted inside the clip size with its own shape and padded with black
bars (pillarbox or letterbox; :func:`pad_clip_frame`, :func:`pad_image`), as a player
shows it; the dedup signature's bar search (:mod:`curate.dedup.pads`) then finds the
bars. A frame where the shape changes is a discontinuity that splits shots like a cut.

The pixel aspect is the decoder's current one (PyAV gives decoded frames no aspect of
their own); with frame threads the decoder reads the next parameters a few frames ahead
of the pictures. While the decoder's picture size is not the frame's, the frame takes the
pixel aspect last seen with its own size, so a size change is placed exactly; a change of
pixel aspect alone is placed within a few frames (the shot detector and ``trim_s`` deal
with the frames at a real cut). A change of size that keeps the display shape
(1920x1080 square pixels -> 1440x1080 with SAR 4:3, adaptive streams changing
resolution) is no change of shape.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from curate.codec.colour import clip_planes, frame_of_planes

TOLERANCE = 0.02
"""Relative difference of display aspect under which two shapes are the same."""

def _sar(value) -> Fraction:
    if value is not None and value.numerator > 0 and value.denominator > 0:
        return Fraction(value.numerator, value.denominator)
    return Fraction(1)


class PictureShape:
    """Display aspect of a stream's frames against its start (module docstring).

    ``stream``: the opened PyAV video stream, before any frame is decoded (its codec
    context then holds the parameters of the stream's start). Raises nothing.
    """

    def __init__(self, stream) -> None:
        self.ctx = stream.codec_context
        w, h = self.ctx.width or 0, self.ctx.height or 0
        self.start = float(w * _sar(self.ctx.sample_aspect_ratio) / h) if w and h else None
        self.last: float | None = None
        self.sar_of_size: dict[tuple[int, int], Fraction] = {(w, h): _sar(self.ctx.sample_aspect_ratio)}

    def ratio(self, frame: av.VideoFrame) -> float:
        """The frame's display aspect over the stream start's (1.0 when unknown)."""
        if not self.start or not frame.height:
            return 1.0
        size, sar = (frame.width, frame.height), _sar(self.ctx.sample_aspect_ratio)
        if (self.ctx.width, self.ctx.height) == size:
            self.sar_of_size[size] = sar
        else:  # the decoder has read ahead to pictures of another size: not this frame's aspect
            sar = self.sar_of_size.get(size, sar)
        return float(frame.width * sar / frame.height) / self.start

    def observe(self, frame: av.VideoFrame, coded: tuple[int, int]) -> tuple[tuple[int, int] | None, bool]:
        """``(box, changed)`` for a decoded frame bound for clip size ``coded`` (width,
        height, pixels, before rotation): ``box``, the even size inside ``coded`` that
        keeps the frame's own display shape (None when it fills ``coded``), and whether
        the shape changed since the previous frame observed."""
        ratio = self.ratio(frame)
        changed = self.last is not None and abs(ratio / self.last - 1.0) > TOLERANCE
        self.last = ratio
        if abs(ratio - 1.0) <= TOLERANCE:
            return None, changed
        return fitted_size(coded, ratio), changed


def fitted_size(coded: tuple[int, int], ratio: float) -> tuple[int, int] | None:
    """The even ``(width, height)`` inside ``coded`` of a picture ``ratio`` times as wide
    (display aspect) as ``coded``: narrower (pillarbox) for ``ratio < 1``, flatter
    (letterbox) for ``ratio > 1``. None when that is ``coded`` itself, within 2 pixels."""
    w, h = coded
    if ratio < 1.0:
        fw, fh = max(2, 2 * round(w * ratio / 2)), h
    else:
        fw, fh = w, max(2, 2 * round(h / ratio / 2))
    return None if abs(fw - w) <= 2 and abs(fh - h) <= 2 else (fw, fh)


def _offsets(inner: tuple[int, int], outer: tuple[int, int]) -> tuple[int, int]:
    """Even left and top offsets that centre ``inner`` in ``outer`` (both width, height)."""
    return 2 * ((outer[0] - inner[0]) // 4), 2 * ((outer[1] - inner[1]) // 4)


def pad_clip_frame(frame: av.VideoFrame, size: tuple[int, int]) -> av.VideoFrame:
    """A ``yuv420p`` limited-range clip frame (even sides) centred in a black frame of
    ``size`` (width, height, even, at least the frame's): luma 16, chroma 128, with the
    frame's colour tags. Raises ValueError when the frame is not ``yuv420p`` or larger."""
    w, h = size
    fw, fh = frame.width, frame.height
    if frame.format.name != "yuv420p" or fw > w or fh > h:
        raise ValueError(f"cannot pad a {fw}x{fh} {frame.format.name} frame to {w}x{h} yuv420p")
    x, y = _offsets((fw, fh), size)
    planes = [np.full((h, w), 16, np.uint8), np.full((h // 2, w // 2), 128, np.uint8),
              np.full((h // 2, w // 2), 128, np.uint8)]
    for k, (plane, src) in enumerate(zip(planes, clip_planes(frame))):
        d = 1 if k == 0 else 2
        plane[y // d:y // d + src.shape[0], x // d:x // d + src.shape[1]] = src
    return frame_of_planes(planes, frame)


def turn_clip_frame(frame: av.VideoFrame, turn) -> av.VideoFrame:
    """A ``yuv420p`` clip frame (even sides) with each plane put through ``turn`` (a
    rotation by quarter turns and/or a mirror of a ``(H, W) uint8`` array, as
    :func:`curate.codec.decode.upright`), with the frame's colour tags. A rotated or
    mirrored source had been turned as RGB and converted back: swscale's 10-bit YUV to
    RGB is off by up to 3 levels (a break test: a rotated 10-bit BT.709 source gave white
    252 and grey 125 where the same source upright gave 255 and 128); turning the clip
    frame's planes leaves its values as the upright path makes them. Raises ValueError
    when the frame is not ``yuv420p`` or a side is odd."""
    w, h = frame.width, frame.height
    if frame.format.name != "yuv420p" or w % 2 or h % 2:
        raise ValueError(f"cannot turn a {w}x{h} {frame.format.name} frame's planes")
    return frame_of_planes([turn(p) for p in clip_planes(frame)], frame)


def pad_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An ``(H, W)`` or ``(H, W, C) uint8`` image centred in a black (zero) one of ``size``
    (width, height, at least the image's)."""
    w, h = size
    ih, iw = image.shape[:2]
    x, y = _offsets((iw, ih), size)
    out = np.zeros((h, w) + image.shape[2:], image.dtype)
    out[y:y + ih, x:x + iw] = image
    return out
