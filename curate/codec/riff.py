"""Tell an AVI file cut short from its RIFF chunk sizes.

An AVI file is a ``RIFF`` chunk of form ``AVI `` (Microsoft, "AVI RIFF File Reference"),
followed in OpenDML files over 1 GB by ``RIFF`` chunks of form ``AVIX``; each chunk's
header gives its size (a little-endian 32-bit count of the bytes after the 8-byte header,
padded to an even count). A file cut short (an interrupted download or copy) keeps those
sizes while the bytes behind them are missing, and FFmpeg then decodes the prefix
without an error: a cut AVI was curated as a whole, shorter file, with no row and its
lost time missing from ``hours_in`` (a break test). Its header's frame count
(``avih``/``strh``) is what :func:`curate.codec.probe.index_claim` then reports.
"""

from __future__ import annotations

from curate import store

_FORMS = (b"AVI ", b"AVIX")
_UNKNOWN = 0xFFFFFFFF
"""The RIFF size FFmpeg leaves where it could not seek back to write the real one (an AVI
muxed to a pipe: whole, but its header also counts 2**30 frames)."""


def riff_extent(path: str) -> tuple[int, int] | None:
    """``(declared_end, size)`` in bytes for an AVI file: where its ``RIFF`` chunks say the
    file ends (chunk after chunk, from the first), and where it does end. None for any
    other file, a first chunk whose size was never written (0, or FFmpeg's 0xFFFFFFFF of an
    AVI muxed to a pipe: a whole file, a review found it read as cut short with 2**30
    frames lost), or a file that cannot be read. ``path``: a local path or fsspec URL."""
    try:
        fs, where = store.filesystem(path)
        size = fs.size(where)
        at = 0
        with fs.open(where, "rb") as f:
            while at + 12 <= size:
                f.seek(at)
                head = f.read(12)
                if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] not in _FORMS:
                    break
                length = int.from_bytes(head[4:8], "little")
                if length in (0, _UNKNOWN):  # never written: an AVI muxed to a pipe
                    return None if at == 0 else (at, size)
                at += 8 + length + (length & 1)
    except (OSError, ValueError):
        return None
    return (at, size) if at > 0 else None


def riff_overrun(path: str) -> bool:
    """True when ``path`` is an AVI file whose ``RIFF`` chunks declare more bytes than it
    holds (by more than one pad byte): the file was cut short."""
    extent = riff_extent(path)
    return extent is not None and extent[0] > extent[1] + 1
