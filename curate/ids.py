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


# Query parameters that sign a web address rather than name what it serves: S3 (and
# Google's XML API) presigned URLs, whole prefixes; with a ``Signature``, those of S3's
# older form, CloudFront and Google's; with a ``sig``, an Azure SAS token's.
_SIGNING_PREFIXES = ("x-amz-", "x-goog-")
_WITH_SIGNATURE = {"signature", "expires", "awsaccesskeyid", "googleaccessid", "key-pair-id", "policy"}
_WITH_SIG = {"sig", "se", "st", "sp", "sv", "sr", "spr", "srt", "ss", "si", "sdd", "skoid", "sktid",
             "skt", "ske", "sks", "skv", "saoid", "suoid", "scid"}


def source_key(path: str) -> str:
    """What names a source across runs: ``path`` itself, or for an ``http(s)://`` address
    the address without its fragment and signing query parameters (the names above), so
    a presigned URL signed again (a new ``X-Amz-Signature``) is the same source, not a new
    one curated twice (a break test: its earlier clips became duplicates). Other
    parameters (``?id=123``, ``versionId``) stay: they name what is served."""
    if not path.lower().startswith(("http://", "https://")):
        return path
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(path)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = {k.lower() for k, _ in query}
    drop = (_WITH_SIGNATURE if "signature" in names else set()) | (_WITH_SIG if "sig" in names else set())
    kept = [(k, v) for k, v in query if not k.lower().startswith(_SIGNING_PREFIXES) and k.lower() not in drop]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))
