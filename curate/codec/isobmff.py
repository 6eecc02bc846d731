"""Tell a cut-off MP4/MOV from a corrupt one by walking its top-level ISO BMFF boxes.

FFmpeg reports both as "Invalid data found when processing input". A file whose first
box is ``ftyp`` (or ``wide``/``free``/``mdat``) and whose last top-level box runs past the
end of the file, or that has no ``moov`` box at all, was cut short: ``truncated``, a
reason users can act on (re-download), rather than ``decode_error``.
"""

from __future__ import annotations

import struct

from curate import store

_LEADING = {b"ftyp", b"wide", b"free", b"mdat", b"skip"}


def top_level_boxes(path: str, limit: int = 64) -> tuple[list[bytes], bool]:
    """Box types at the top level of ``path`` and whether the last one runs past EOF.

    Reads only box headers (8 or 16 bytes each), at most ``limit`` boxes; ``path`` is a
    local path or an fsspec URL (``s3://``, ``gs://``, ``file://``: a ranged read per
    header). Returns ``([], False)`` for a file that does not start like ISO BMFF.
    """
    fs, where = store.filesystem(path)
    size = fs.size(where)
    types: list[bytes] = []
    with fs.open(where, "rb") as f:
        offset = 0
        while offset + 8 <= size and len(types) < limit:
            f.seek(offset)
            box_size, box_type = struct.unpack(">I4s", f.read(8))
            if not types and box_type not in _LEADING:
                return [], False
            if box_size == 1:
                box_size = struct.unpack(">Q", f.read(8))[0]
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8:
                return types, True
            types.append(box_type)
            if offset + box_size > size:
                return types, True
            offset += box_size
    return types, False


def is_truncated_mp4(path: str) -> bool:
    """True when ``path`` (a local path or an fsspec URL: a source read from ``s3://`` was
    called ``decode_error`` instead, found by a break test) looks like an MP4/MOV that
    was cut short (see module docstring); False when it cannot be read, or when a top-level
    box's type is not four printable ASCII characters (garbage written over the index of a
    whole file had read as "cut short": a break test)."""
    try:
        types, overrun = top_level_boxes(path)
    except (OSError, ValueError, ImportError, struct.error):  # gone, a folder, refused, no backend: not ours to judge
        return False
    if any(not all(0x20 <= c < 0x7F for c in t) for t in types):
        return False  # a box type no muxer writes: bytes damaged in place, not a file cut short
    return bool(types) and (overrun or b"moov" not in types)
