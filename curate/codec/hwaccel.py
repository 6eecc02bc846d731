"""Which decoder and encoder a process uses: NVDEC/NVENC on a GPU node, libavcodec/libx264 otherwise.

Settings (the extract stage's ``decoder`` and ``encoder``, pipelines/*.yaml):

- ``decoder: auto | cpu | nvdec``: ``nvdec`` decodes on the GPU through FFmpeg's ``cuda``
  hwaccel (``av.open(..., hwaccel=HWAccel("cuda", allow_software_fallback=True))``,
  PyAV >= 14). Frames are copied back to system memory (``nv12``, ``p010le`` for
  10-bit) by PyAV before anything else sees them, so scaling, colour range and matrix
  conversion (:mod:`curate.codec.colour`) and deinterlacing are the CPU path's. A
  stream NVDEC cannot decode (4:2:2, some profiles, codecs without NVDEC) is decoded
  in software by FFmpeg (``allow_software_fallback``). H.264/HEVC decoding is exactly
  specified, so the decoder does not change a clip's bytes and is no part of clip ids.
- ``encoder: auto | libx264 | nvenc``: ``nvenc`` writes H.264 with ``h264_nvenc`` from
  the clip's ``yuv420p`` frames (the encoder uploads them itself), with options mapped
  from the x264 settings (:func:`nvenc_options`). NVENC bytes differ from x264's and
  between GPU generations and drivers, so a clip written by NVENC has its own clip id.
  NVENC has a minimum frame size (about 145x49 for H.264 by NVIDIA's NVENC notes; not
  checked here): a smaller clip fails with ``encode_error``.

Selection rule (one for both): ``cpu``/``libx264`` is always the CPU path. ``auto``
picks the GPU path only when (1) this FFmpeg build offers it (``cuda`` in
:func:`av.codec.hwaccel.hwdevices_available`; ``h264_nvenc`` in ``av.codecs_available``)
and (2) it actually works in this process: a CUDA device context opens (NVDEC) or a
256x256 ``h264_nvenc`` encoder opens and encodes one frame (NVENC; data-centre GPUs
without NVENC such as A100 and H100 fail here, while their NVDEC works). The verdict is
probed once per process and cached. An explicit ``nvdec``/``nvenc`` where the GPU path
does not work falls back to the CPU path with a warning instead of a config error: a
pipeline file is shared by GPU and CPU nodes (and by the driver, which may have no GPU),
and a missing GPU costs speed, not correctness. Each verdict's one-line reason is
logged once per process (``auto``: info; explicit: warning) and kept on the choice.

Ray hides GPUs from tasks without a GPU share (``CUDA_VISIBLE_DEVICES=""``), and CUDA
reserves far more address space than the sandbox's default memory bound
(:mod:`curate.guard`); callers pass ``no_gpu_reason`` to rule the GPU out up front.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from fractions import Fraction

import av
from av.codec.hwaccel import HWAccel, hwdevices_available

log = logging.getLogger(__name__)

DECODERS = ("auto", "cpu", "nvdec")
ENCODERS = ("auto", "libx264", "nvenc")

# x264 preset -> NVENC preset (p1 fastest .. p7 slowest, FFmpeg >= 4.4 / SDK 10 names).
NVENC_PRESETS = {"ultrafast": "p1", "superfast": "p2", "veryfast": "p3", "faster": "p4", "fast": "p4",
                 "medium": "p5", "slow": "p6", "slower": "p7", "veryslow": "p7"}


@dataclass(frozen=True)
class DecoderChoice:
    """A resolved decoder: ``name`` ``cpu`` or ``nvdec``; ``hwaccel`` the PyAV
    :class:`~av.codec.hwaccel.HWAccel` to pass to ``av.open`` (None on the CPU path);
    ``reason`` one line saying why."""

    name: str
    hwaccel: HWAccel | None
    reason: str


@dataclass(frozen=True)
class EncoderChoice:
    """A resolved encoder: ``name`` ``libx264`` or ``nvenc``; ``codec_name`` the FFmpeg
    encoder (``libx264``, ``h264_nvenc``); ``options`` its codec options (strings);
    ``reason`` one line saying why. Pickles (travels with a stage to Ray workers)."""

    name: str
    codec_name: str
    options: dict = field(default_factory=dict)
    reason: str = ""


def x264_options(crf: int, preset: str) -> dict:
    """libx264 options of every clip: ``crf``, ``preset``, one thread and ``mbtree=0``
    (reproducible bytes; :mod:`curate.codec.encode`)."""
    return {"crf": str(crf), "preset": preset, "threads": "1", "x264-params": "mbtree=0"}


def nvenc_options(crf: int, preset: str) -> dict:
    """``h264_nvenc`` options mapped from the x264 settings.

    - ``rc=vbr`` with ``cq`` = ``crf`` and ``b=0`` (no bitrate cap): constant quality,
      NVENC's counterpart of CRF on the same 0-51 quantiser scale. At an equal number
      NVENC files run larger than x264's (no x264 psychovisual tuning); not measured
      here. ``crf`` 0 becomes ``cq`` 1 (NVENC reads ``cq=0`` as "automatic").
    - ``preset``: x264's speed ladder onto NVENC's ``p1``..``p7`` (:data:`NVENC_PRESETS`;
      ``veryfast`` -> ``p3``), ``tune=hq``.
    - ``bf``: 3 B-frames as x264's presets use, 0 for ``ultrafast`` (as x264's).
    - ``profile=high``; GOP length stays FFmpeg's default (250 frames, x264's keyint).
    Raises ValueError for an unknown x264 preset.
    """
    if preset not in NVENC_PRESETS:
        raise ValueError(f"unknown x264 preset {preset!r}")
    return {"preset": NVENC_PRESETS[preset], "tune": "hq", "rc": "vbr", "cq": str(max(1, min(51, int(crf)))),
            "b": "0", "bf": "0" if preset == "ultrafast" else "3", "profile": "high"}


def _cuda_built() -> bool:
    return "cuda" in hwdevices_available()


def _open_cuda() -> None:
    HWAccel("cuda").create(av.Codec("h264", "r"))  # av_hwdevice_ctx_create; freed on return


def _nvenc_built() -> bool:
    return "h264_nvenc" in av.codecs_available


def _open_nvenc() -> None:
    ctx = av.CodecContext.create("h264_nvenc", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 256, 256, "yuv420p", Fraction(1, 25)
    ctx.options = {"preset": "p1"}
    frame = av.VideoFrame(256, 256, "yuv420p")
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    ctx.encode(frame)
    ctx.encode(None)


def _verdict(built: bool, absent: str, opener, failed: str) -> str | None:
    """None when ``built`` and ``opener()`` works, else why not (``absent``, or ``failed``
    with the error)."""
    if not built:
        return absent
    try:
        opener()
    except Exception as exc:  # noqa: BLE001 - any failure means the GPU path is out here
        return f"{failed} ({type(exc).__name__}: {exc})"
    return None


@functools.cache
def cuda_verdict() -> str | None:
    """None when FFmpeg's ``cuda`` hwaccel is built in and a CUDA device context opens in
    this process, else the reason why not (probed once per process)."""
    return _verdict(_cuda_built(), "this FFmpeg build has no cuda hwaccel", _open_cuda, "no CUDA device opens")


@functools.cache
def nvenc_verdict() -> str | None:
    """None when this FFmpeg build has ``h264_nvenc`` and it opens and encodes a 256x256
    frame in this process, else the reason why not (probed once per process)."""
    return _verdict(_nvenc_built(), "this FFmpeg build has no h264_nvenc", _open_nvenc, "h264_nvenc does not open")


def reset() -> None:
    """Forget the cached verdicts and logged reasons (tests; a process whose devices changed)."""
    cuda_verdict.cache_clear()
    nvenc_verdict.cache_clear()
    _logged.clear()


_logged: set[tuple[str, str, str]] = set()


def _say(kind: str, pref: str, reason: str, fallback: bool) -> None:
    if (kind, pref, reason) in _logged:
        return
    _logged.add((kind, pref, reason))
    if fallback and pref != "auto":
        log.warning("%s: %s requested, using the CPU path: %s", kind, pref, reason)
    else:
        log.info("%s (%s): %s", kind, pref, reason)


def pick_decoder(pref: str = "auto", no_gpu_reason: str | None = None) -> DecoderChoice:
    """Resolve a ``decoder`` setting (``auto``/``cpu``/``nvdec``) by the module's rule.

    ``no_gpu_reason``: when given, the GPU is ruled out for that reason (no probe).
    Returns a :class:`DecoderChoice`. Raises ValueError for an unknown setting.
    """
    if pref not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, not {pref!r}")
    if pref == "cpu":
        return DecoderChoice("cpu", None, "decoder: cpu (configured)")
    why = no_gpu_reason or cuda_verdict()
    if why:
        _say("decoder", pref, why, fallback=True)
        return DecoderChoice("cpu", None, f"decoder {pref} -> cpu: {why}")
    reason = f"decoder {pref} -> nvdec: CUDA device opens"
    _say("decoder", pref, reason, fallback=False)
    return DecoderChoice("nvdec", HWAccel("cuda", allow_software_fallback=True), reason)


def pick_encoder(pref: str = "auto", crf: int = 23, preset: str = "veryfast",
                 no_gpu_reason: str | None = None) -> EncoderChoice:
    """Resolve an ``encoder`` setting (``auto``/``libx264``/``nvenc``) by the module's rule,
    with options from the x264 ``crf`` (0-51) and ``preset`` (:func:`x264_options`,
    :func:`nvenc_options`).

    ``no_gpu_reason``: when given, NVENC is ruled out for that reason (no probe).
    Returns an :class:`EncoderChoice`. Raises ValueError for an unknown setting or preset.
    """
    if pref not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}, not {pref!r}")
    if pref == "libx264":
        return EncoderChoice("libx264", "libx264", x264_options(crf, preset), "encoder: libx264 (configured)")
    why = no_gpu_reason or nvenc_verdict()
    if why:
        _say("encoder", pref, why, fallback=True)
        return EncoderChoice("libx264", "libx264", x264_options(crf, preset), f"encoder {pref} -> libx264: {why}")
    reason = f"encoder {pref} -> nvenc: h264_nvenc opens"
    _say("encoder", pref, reason, fallback=False)
    return EncoderChoice("nvenc", "h264_nvenc", nvenc_options(crf, preset), reason)
