"""Tell a Matroska/WebM file cut short from its EBML header.

A Matroska file is one EBML header element and one ``Segment`` element holding everything
else; muxers that can seek (FFmpeg, mkvmerge) write the Segment's size once the file is
complete. A file cut short (an interrupted download or copy) keeps that size in its
header while the bytes behind it are missing, and FFmpeg then decodes the prefix without
an error: the tail went missing with no row (found by a break test, an MKV cut in half
that lost 18 s silently). A Segment of unknown size (live or piped WebM) says nothing.

EBML variable-length integers (RFC 8794, section 4): the number of leading zero bits of
the first byte gives the length (1 to 8 bytes); an element ID keeps its marker bit, a
size drops it, and a size with every value bit set means unknown.
"""

from __future__ import annotations

import struct

from curate import store

EBML_ID = 0x1A45DFA3
SEGMENT_ID = 0x18538067
INFO_ID = 0x1549A966  # Segment > Info: TimestampScale and Duration
SCALE_ID = 0x2AD7B1  # TimestampScale, nanoseconds per tick (default 1,000,000)
DURATION_ID = 0x4489  # Duration, a float of ticks
CLUSTER_ID = 0x1F43B675  # the media: Info comes before it
HEAD_BYTES = 65536  # bytes read for the header's duration


def _vint(data: bytes, at: int, keep_marker: bool) -> tuple[int | None, int]:
    """``(value, next offset)`` of the variable-length integer at ``data[at:]``; value None
    for an unknown size. Raises ValueError when the bytes do not hold one."""
    if at >= len(data) or data[at] == 0:
        raise ValueError("not an EBML variable-length integer")
    first = data[at]
    length = 8 - first.bit_length() + 1
    if at + length > len(data):
        raise ValueError("EBML integer runs past the bytes read")
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for byte in data[at + 1:at + length]:
        value = (value << 8) | byte
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return None, at + length
    return value, at + length


def _segment(head: bytes) -> tuple[int | None, int] | None:
    """``(size, offset)`` of the Segment of a file starting with ``head``: its declared size
    (None when unknown) and where its children start. None when ``head`` does not start
    with an EBML header of known size and a Segment. Raises ValueError when the bytes end
    inside those elements."""
    ident, at = _vint(head, 0, keep_marker=True)
    if ident != EBML_ID:
        return None
    header_size, at = _vint(head, at, keep_marker=False)
    if header_size is None:
        return None
    ident, at = _vint(head, at + header_size, keep_marker=True)
    if ident != SEGMENT_ID:
        return None
    return _vint(head, at, keep_marker=False)


def segment_overrun(path: str) -> bool:
    """True when ``path`` (local path or fsspec URL) starts like Matroska/WebM and its
    Segment's declared size runs past the end of the file: the file was cut short.
    False for any other file, a Segment of unknown size, or a file that cannot be read."""
    extent = segment_extent(path)
    return extent is not None and extent[0] > extent[1]


def header_duration(path: str) -> float | None:
    """Seconds of the ``Duration`` in the ``Info`` element of a Matroska/WebM file (local
    path or fsspec URL), read from its first :data:`HEAD_BYTES` bytes (muxers write
    ``Info`` before the first ``Cluster``); what FFmpeg's ``container.duration`` gives,
    without opening the file with FFmpeg (which reads and decodes ahead: about 3 ms a
    file). None for any other file, a header with no duration, or one past those bytes."""
    try:
        fs, where = store.filesystem(path)
        with fs.open(where, "rb") as f:
            head = f.read(HEAD_BYTES)
        segment = _segment(head)
        if segment is None:
            return None
        at = segment[1]
        while at < len(head):  # the Segment's children up to Info
            ident, at = _vint(head, at, keep_marker=True)
            size, at = _vint(head, at, keep_marker=False)
            if ident == CLUSTER_ID or size is None:
                return None
            if ident == INFO_ID:
                return _info_seconds(head[at:at + size])
            at += size
    except (OSError, ValueError, ImportError, struct.error):  # gone, refused, not EBML, cut: not ours to judge
        return None
    return None


def _info_seconds(info: bytes) -> float | None:
    """Seconds of the ``Duration`` among the children of an ``Info`` element's bytes."""
    scale, ticks, at = 1_000_000, None, 0
    while at < len(info):
        ident, at = _vint(info, at, keep_marker=True)
        size, at = _vint(info, at, keep_marker=False)
        if size is None or at + size > len(info):
            return None
        value = info[at:at + size]
        if ident == SCALE_ID and 0 < size <= 8:
            scale = int.from_bytes(value, "big")
        elif ident == DURATION_ID and size in (4, 8):
            ticks = struct.unpack(">f" if size == 4 else ">d", value)[0]
        at += size
    return ticks * scale / 1e9 if ticks and ticks > 0 and scale > 0 else None


def segment_extent(path: str) -> tuple[int, int] | None:
    """``(declared_end, size)`` in bytes for a Matroska/WebM file whose Segment has a known
    size: where its header says the file ends, and where it does end. None for any other
    file, a Segment of unknown size, or a file that cannot be read."""
    try:
        fs, where = store.filesystem(path)
        size = fs.size(where)
        with fs.open(where, "rb") as f:
            head = f.read(64)
        segment = _segment(head)
    except (OSError, ValueError, ImportError):  # gone, a folder, refused, not EBML: not ours to judge
        return None
    return None if segment is None or segment[0] is None else (segment[1] + segment[0], size)
