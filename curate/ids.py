"""Content-addressed ids: source fingerprints and clip ids (the shard sample keys).

A clip id is the hex SHA-256 (first 24 characters) of the source fingerprint, the
span in source frames and the settings that change the encoded clip, so the same
input and settings give the same ids whatever the parallelism or file location.
Ids are ``[0-9a-f]`` only: never a dot, safe in tar member names and file names.
"""

from __future__ import annotations

import hashlib
import json
import os

import fsspec

_CHUNK = 1 << 20


def source_fingerprint(path: str) -> str:
    """Fingerprint of a source file: SHA-256 over its size and up to three 1 MiB chunks.

    Reads the first, middle and last MiB (via fsspec, so remote URLs work), so huge
    files cost a few reads, not a full pass. Returns 24 hex characters.
    Raises FileNotFoundError when the path does not exist.
    """
    opener = fsspec.open(path, "rb") if "://" in path else open(path, "rb")  # "a::b.mkv" is a file name
    with opener as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        h = hashlib.sha256(str(size).encode())
        for offset in sorted({0, max(0, size // 2 - _CHUNK // 2), max(0, size - _CHUNK)}):
            f.seek(offset)
            h.update(f.read(_CHUNK))
    return h.hexdigest()[:24]


def clip_id(source_id: str, start_frame: int, end_frame: int, settings: dict) -> str:
    """Clip id from the source fingerprint, the span ``[start_frame, end_frame)`` and settings.

    ``settings`` holds the values that change the clip's bytes (target size, fps cap,
    encoder options); it is serialised with sorted keys. Returns 24 hex characters.
    """
    payload = json.dumps(
        {"source": source_id, "span": [start_frame, end_frame], "settings": settings},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def text_id(text: str) -> str:
    """Short stable hex id of a string (used for commit file names of source paths)."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]
