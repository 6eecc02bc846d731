"""Codec errors carry a stable reject reason (see :mod:`curate.reasons`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import av

from curate.codec.isobmff import is_truncated_mp4
from curate.codec.matroska import segment_overrun
from curate.codec.riff import riff_overrun


class CodecError(Exception):
    """A source cannot be probed, decoded or encoded.

    ``reason`` is a code from :data:`curate.reasons.REASONS`; ``detail`` the specifics.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


_ERRNO = re.compile(r"^\[Errno -?\d+\] ")


def message(exc: BaseException) -> str:
    """``str(exc)`` without the ``[Errno N]`` an FFmpeg error begins with (its AVERROR
    code, e.g. 1094995529 for "Invalid data found when processing input", which tells a
    user nothing; a break test found it in reject rows)."""
    return _ERRNO.sub("", str(exc))


def classify(exc: BaseException) -> CodecError:
    """Map a PyAV/FFmpeg exception to a :class:`CodecError` with a stable reason."""
    if isinstance(exc, CodecError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return CodecError("not_found", str(exc))
    text = message(exc)
    low = text.lower()
    if isinstance(exc, av.error.DecoderNotFoundError) or "decoder not found" in low:
        return CodecError("unsupported_codec", text)
    if isinstance(exc, (av.error.InvalidDataError, av.error.EOFError)) or "end of file" in low:
        return CodecError("truncated" if "end of file" in low else "decode_error", text)
    return CodecError("decode_error", f"{type(exc).__name__}: {text}")


@contextlib.contextmanager
def open_container(path: str, hwaccel=None) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading with PyAV; errors become :class:`CodecError`.

    Remote URLs (``s3://``, ``gs://``, ``http(s)://``) are opened through fsspec.
    ``hwaccel``: an ``av.codec.hwaccel.HWAccel`` for GPU decoding (:mod:`curate.codec.hwaccel`).
    """
    handle = None
    try:
        if "://" in path and not path.startswith("file://"):
            import fsspec

            handle = fsspec.open(path, "rb").open()
            container = av.open(handle, mode="r", hwaccel=hwaccel)
        else:
            container = av.open(path.removeprefix("file://"), mode="r", hwaccel=hwaccel)
    except Exception as exc:  # noqa: BLE001 - every open failure becomes a reason
        if handle is not None:
            handle.close()
        err = classify(exc)
        if err.reason == "decode_error" and is_truncated_mp4(path):
            err = CodecError("truncated", f"MP4/MOV cut short (no complete moov box): {message(exc)}")
        elif err.reason == "decode_error" and segment_overrun(path):  # cut inside its header (break test)
            err = CodecError("truncated", f"Matroska/WebM cut short (its Segment runs past the file's end): {message(exc)}")
        elif err.reason == "decode_error" and riff_overrun(path):
            err = CodecError("truncated", f"AVI cut short (its RIFF chunk runs past the file's end): {message(exc)}")
        raise err from exc
    try:
        yield container
    except CodecError:
        raise
    except av.error.FFmpegError as exc:
        raise classify(exc) from exc
    finally:
        container.close()
        if handle is not None:
            handle.close()
