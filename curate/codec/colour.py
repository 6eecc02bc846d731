"""Colour facts of a source, and the one colour conversion every clip frame takes.

Sources come in limited range (``tv``: Y 16-235) or full range (``pc``: Y 0-255;
``yuvj420p``, every MJPEG, many phones, webcams and screen recordings), with BT.601,
BT.709 or BT.2020 matrices, and SDR or HDR transfer functions. Clips are always
limited range, tagged so in the H.264 stream (VUI) and the MP4 ``colr`` box, and keep
the source's matrix, primaries and transfer, also tagged (an untagged source's matrix
is written as ``smpte170m``, BT.601, which is how FFmpeg decodes untagged video), so a
player decodes a clip to the colours of the source.

The conversion is swscale's (``VideoFrame.reformat``), with the source's range and
matrix read from the decoded frame and the destination range always stated. PyAV
copies the source frame's tags onto a reformatted frame, so converting a full-range
frame to ``yuv420p`` without a stated range kept it full range, and the untagged
encoder then made every player stretch the range a second time (greys 52 -> 41,
243 -> 255). The matrix is kept rather than converted to BT.709: swscale's YUV-to-YUV
matrix conversion shifts greys by a code value (measured: mean RGB error 1.7 on a
limited-range chart, against 0.1 when the matrix is kept).

HDR transfers (PQ, SMPTE ST 2084, and HLG, ARIB STD-B67) are not tone-mapped: this
FFmpeg build has no zimg (``zscale``) to linearise them for the ``tonemap`` filter,
so such sources are rejected with ``hdr_unsupported`` (:mod:`curate.reasons`) rather
than written with washed-out colours.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import ColorPrimaries, ColorRange, ColorTrc, Colorspace, VideoReformatter

HDR_TRANSFERS = ("smpte2084", "arib-std-b67")
"""Transfer functions (FFmpeg names) of HDR video: PQ and HLG."""
COLOUR_TAGS = ("color_range", "colorspace", "color_primaries", "color_trc")
"""A frame's colour tags (``av.VideoFrame`` attributes) that a copy of it must keep."""

# AVColorSpace (frame tags) -> swscale matrix; anything else decodes as BT.601.
_SWS_MATRIX = {1: Colorspace.ITU709, 4: Colorspace.FCC, 5: Colorspace.ITU601, 6: Colorspace.ITU601,
               7: Colorspace.SMPTE240M, 9: Colorspace.BT2020}
_SMPTE170M = 6


def _name(enum, value) -> str:
    try:
        name = enum(int(value)).name
    except (ValueError, TypeError):
        return f"unknown-{value}"
    return "unknown" if name == "UNSPECIFIED" else name.lower().replace("_", "-")


def primaries_name(value: int | None) -> str:
    """FFmpeg's name of ``AVColorPrimaries`` ``value`` (``bt709``, ``bt2020``, ...; ``unknown``)."""
    return _name(ColorPrimaries, value or 2)


def transfer_name(value: int | None) -> str:
    """FFmpeg's name of ``AVColorTransferCharacteristic`` ``value`` (``bt709``,
    ``smpte2084``, ``arib-std-b67``, ...; ``unknown``)."""
    return _name(ColorTrc, value or 2)


def range_name(frame: av.VideoFrame) -> str:
    """``pc`` (full range: tagged so, or a ``yuvj`` format), ``tv`` (limited) or
    ``unknown`` (untagged; decoders treat it as limited) for a decoded frame."""
    if frame.format.name.startswith("yuvj") or int(frame.color_range) == ColorRange.JPEG:
        return "pc"
    return "tv" if int(frame.color_range) == ColorRange.MPEG else "unknown"


def is_hdr(transfer: str) -> bool:
    """True for an HDR transfer function name (see :data:`HDR_TRANSFERS`)."""
    return transfer in HDR_TRANSFERS


def clip_matrix(colorspace: int | None) -> int:
    """The ``AVColorSpace`` a clip is written and tagged with for a source frame's
    ``colorspace``: the same matrix when swscale knows it (BT.709, BT.601, FCC,
    SMPTE 240M, BT.2020 non-constant), else ``smpte170m`` (BT.601)."""
    return int(colorspace) if int(colorspace or 2) in _SWS_MATRIX else _SMPTE170M


SWS_THREAD_PIXELS = 1280 * 720
"""Input pixels from which a swscale conversion uses slice threads (FFmpeg's ``threads=0``,
one per CPU); smaller frames are converted on the calling thread. Measured on 2 cores:
768x432 -> 456x256 plus RGB, 0.43 -> 0.33 ms CPU a frame with one thread (the slice
threads' hand-offs cost more than they save, and a pass already keeps its cores busy with
decode, detection and encoder threads); 1920x1080 -> 456x256, 1.0 -> 0.74 ms wall for 5 %
more CPU with threads; the one-decode passes over ../shared/footage, 2.5 % less CPU in all.
The pixels are the same either way (swscale's slices are exact; tested)."""


def sws_threads(frame: av.VideoFrame) -> int:
    """swscale threads (PyAV's ``reformat(threads=...)``) for converting ``frame``: 0 (one per
    CPU) for a frame of at least :data:`SWS_THREAD_PIXELS` pixels, else 1."""
    return 0 if frame.width * frame.height >= SWS_THREAD_PIXELS else 1


def to_clip_yuv(frame: av.VideoFrame, width: int, height: int,
                reformatter: VideoReformatter | None = None, threads: int | None = None) -> av.VideoFrame:
    """A decoded frame as a clip frame: ``yuv420p``, ``width`` x ``height`` (swscale
    area filter), limited range, the source's matrix; the source's range and matrix
    come from the frame's own tags (untagged: limited range, BT.601, as FFmpeg decodes).
    ``reformatter``: one kept for a pass of like frames (its swscale context is reused);
    None makes a new one. ``threads``: swscale's (None: :func:`sws_threads`)."""
    return (reformatter or VideoReformatter()).reformat(
        frame, width=width, height=height, format="yuv420p", interpolation="AREA", dst_color_range=ColorRange.MPEG,
        threads=sws_threads(frame) if threads is None else threads)


def clip_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Y ``(H, W)``, U and V ``(H/2, W/2) uint8`` planes of a ``yuv420p`` frame (even
    sides), as views of one copy of its pixels."""
    w, h = frame.width, frame.height
    src = frame.to_ndarray().ravel()  # Y, then U, then V, each contiguous
    n, c = w * h, (w // 2) * (h // 2)
    return (src[:n].reshape(h, w), src[n:n + c].reshape(h // 2, w // 2),
            src[n + c:n + 2 * c].reshape(h // 2, w // 2))


def frame_of_planes(planes, like: av.VideoFrame) -> av.VideoFrame:
    """A ``yuv420p`` frame of the Y, U, V ``uint8`` planes (:func:`clip_planes`' shapes)
    with the colour tags of ``like``."""
    h, w = planes[0].shape
    out = av.VideoFrame.from_ndarray(np.concatenate([p.ravel() for p in planes]).reshape(h * 3 // 2, w),
                                     format="yuv420p")
    for tag in COLOUR_TAGS:
        setattr(out, tag, getattr(like, tag))
    return out


# AVColorSpace -> (Kr, Kb) luma weights (ITU-R BT.601, BT.709, FCC, SMPTE 240M, BT.2020)
_KRKB = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 5: (0.299, 0.114), 6: (0.299, 0.114),
         7: (0.212, 0.087), 9: (0.2627, 0.0593)}


def same_matrix(a: int, b: int) -> bool:
    """Whether two :func:`clip_matrix` values are one conversion (``bt470bg`` and
    ``smpte170m`` are both BT.601: no conversion between them)."""
    return _KRKB.get(a, _KRKB[_SMPTE170M]) == _KRKB.get(b, _KRKB[_SMPTE170M])


def _to_ypbpr(matrix: int) -> np.ndarray:
    """``(3, 3)`` map of R'G'B' (0..1) to Y' (0..1), Pb, Pr (-0.5..0.5) for an ``AVColorSpace``."""
    kr, kb = _KRKB.get(matrix, _KRKB[_SMPTE170M])
    y = np.array([kr, 1.0 - kr - kb, kb])
    return np.stack([y, (np.array([0.0, 0.0, 1.0]) - y) / (2 * (1 - kb)),
                     (np.array([1.0, 0.0, 0.0]) - y) / (2 * (1 - kr))])


def to_clip_matrix(frame: av.VideoFrame, matrix: int) -> av.VideoFrame:
    """A clip frame (``yuv420p``, limited range, even sides) converted to the
    ``AVColorSpace`` ``matrix`` (a :func:`clip_matrix` value), its primaries and transfer
    kept. The change of matrix is linear in Y'CbCr: new chroma is a mix of the old chroma
    planes alone (grey stays grey), computed at their own resolution; new luma is the old
    plus a mix of the chroma, upsampled by repetition. Exact in flat areas, where swscale's
    YUV-to-YUV path had left greys 2-5 levels off."""
    w, h = frame.width, frame.height
    if w % 2 or h % 2:  # not a clip frame's shape: swscale's conversion
        return VideoReformatter().reformat(frame, format="yuv420p", dst_colorspace=_SWS_MATRIX[matrix],
                                           dst_color_range=ColorRange.MPEG)
    t = _to_ypbpr(matrix) @ np.linalg.inv(_to_ypbpr(clip_matrix(frame.colorspace)))
    y, pb, pr = (p.astype(np.float32) for p in clip_planes(frame))
    y, pb, pr = (y - 16.0) / 219.0, (pb - 128.0) / 224.0, (pr - 128.0) / 224.0
    up = lambda p: np.repeat(np.repeat(p, 2, axis=0), 2, axis=1)  # noqa: E731
    planes = [16.0 + 219.0 * (t[0, 0] * y + t[0, 1] * up(pb) + t[0, 2] * up(pr)),
              128.0 + 224.0 * (t[1, 1] * pb + t[1, 2] * pr), 128.0 + 224.0 * (t[2, 1] * pb + t[2, 2] * pr)]
    out = frame_of_planes([np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in planes], frame)
    out.color_range, out.colorspace = ColorRange.MPEG, matrix
    return out


def rgb_to_clip_yuv(image: np.ndarray, colorspace: int | None = None,
                    reformatter: VideoReformatter | None = None,
                    like: av.VideoFrame | None = None) -> av.VideoFrame:
    """An ``(H, W, 3) uint8`` RGB image as a clip frame: ``yuv420p``, limited range,
    matrix :func:`clip_matrix` of ``colorspace`` (an ``AVColorSpace``; None: BT.601).
    ``reformatter``: as in :func:`to_clip_yuv`. ``like``: the decoded frame the image was
    made from (turned upright, mirrored), whose colour primaries and transfer the clip
    frame keeps for :func:`tag_clip_stream` (a break test: rotated BT.2020 and BT.709
    sources gave clips tagged with neither)."""
    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    if like is not None:
        frame.color_primaries, frame.color_trc = like.color_primaries, like.color_trc
    matrix = _SWS_MATRIX[clip_matrix(colorspace)]
    return (reformatter or VideoReformatter()).reformat(
        frame, format="yuv420p", dst_colorspace=matrix, dst_color_range=ColorRange.MPEG, threads=sws_threads(frame))


def tag_clip_stream(ctx, frame: av.VideoFrame) -> None:
    """Tag an encoder's codec context for clip frames like ``frame`` (a clip frame from
    :func:`to_clip_yuv`/:func:`rgb_to_clip_yuv`): limited range, :func:`clip_matrix`,
    the frame's primaries and transfer. Written to the H.264 VUI and the MP4 ``colr``
    box; call before the encoder opens (before the first ``encode``)."""
    ctx.color_range = int(ColorRange.MPEG)
    ctx.colorspace = clip_matrix(frame.colorspace)
    ctx.color_primaries = int(frame.color_primaries)
    ctx.color_trc = int(frame.color_trc)
