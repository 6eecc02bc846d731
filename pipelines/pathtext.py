"""Paths as text: list files of ``--input-list``, fsspec protocols, names that are not UTF-8.

Used by :mod:`pipelines.sources` (the input rule is there). A list file is UTF-8 text
(a byte-order mark allowed); a file that holds NUL bytes and is not UTF-16 is no list.
A file name whose bytes are not UTF-8 is skipped with :data:`NOT_UTF8` and shown with
its odd bytes as ``\\xNN`` (:func:`shown`).
"""

from __future__ import annotations

import os
import posixpath


def protocol_of(path: str) -> str:
    """The fsspec protocol of ``path``: ``s3`` for ``s3://b/k``, ``file`` for a local path."""
    return path.split("://", 1)[0] if "://" in path else "file"


def join_protocol(protocol: str, path: str) -> str:
    """``path`` (without its protocol, as fsspec lists it) with ``protocol`` put back."""
    return path if protocol == "file" else f"{protocol}://{path}"


NOT_UTF8 = "name is not UTF-8 (e.g. Latin-1 from an old archive): rename it to curate it"


def not_utf8(path: str) -> bool:
    """Whether ``path`` holds bytes that are not UTF-8 (Python gives them as lone
    surrogates, ``os.fsdecode``): records, ids and shards need text, so such a file is
    skipped with :data:`NOT_UTF8` rather than stop the run (a break test: exit 1)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def shown(path: str) -> str:
    """``path`` as text that can be written anywhere: bytes that are not UTF-8 as ``\\xNN``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_binary(head: bytes) -> bool:
    """Whether a file starting with ``head`` is no text: it holds NUL bytes and is not
    UTF-16 (a byte-order mark, or NULs in every other byte as UTF-16 gives ASCII)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    odd, even = head[1::2], head[0::2]
    utf16 = len(head) >= 4 and (odd.count(0) > 0.9 * len(odd) or even.count(0) > 0.9 * len(even))
    return b"\0" in head and not utf16


def read_list(fs, protocol: str, path: str) -> list[str]:
    """The sources a list file at ``path`` (on filesystem ``fs`` of ``protocol``) names,
    one a line (module docstring of :mod:`pipelines.sources`): comments and blank lines
    left out, relative paths made relative to the list's folder and normalised. Raises
    UnicodeDecodeError for a file that is not UTF-8 (or is UTF-16 without its mark)."""
    base = os.path.dirname(path)
    out = []
    with fs.open(path, "r", encoding="utf-8-sig") as f:
        for line in f:
            if "\0" in line:  # UTF-16 without its byte-order mark reads as UTF-8 with NULs
                raise UnicodeDecodeError("utf-8", b"\0", 0, 1, "a NUL byte in a list of paths")
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "://" not in line and not os.path.isabs(line):
                line = os.path.join(base, line) if protocol == "file" else f"{base}/{line}"
            if "://" not in line:  # a/../a/x.mp4 is a/x.mp4: one source (store keys too: break test)
                line = os.path.normpath(line) if protocol == "file" else posixpath.normpath(line)
            out.append(line if "://" in line or protocol == "file" else join_protocol(protocol, line))
    return out


def short_names(paths: list[str]) -> dict[str, str]:
    """A name for each of ``paths`` (local paths or URLs) to show in progress lines: its
    file name, or, where two paths share one (``a/bird.mkv``, ``b/bird.mkv``), the path
    below the folder all of those share; line breaks and tabs as ``\\n`` and ``\\t``
    (a walk-through: a name with a newline broke its line, and two ``bird.mkv`` lines
    from two folders read as one source twice)."""
    base = {p: posixpath.basename(p.rstrip("/")) or p for p in paths}
    counts: dict[str, int] = {}
    for name in base.values():
        counts[name] = counts.get(name, 0) + 1
    twins = [p for p in paths if counts[base[p]] > 1]
    parts = [p.split("/")[:-1] for p in twins]  # folders, a URL's scheme and host included
    common = parts[0] if parts else []
    for other in parts[1:]:
        n = 0
        while n < min(len(common), len(other)) and common[n] == other[n]:
            n += 1
        common = common[:n]
    named = [c for c in common if c and not c.endswith(":")]  # a folder, not "/" or "s3://" alone
    root = "/".join(common) + "/" if named else ""
    out = {}
    for p in paths:
        name = base[p]
        if counts[name] > 1:
            name = p[len(root):] if root and p.startswith(root) else p
        out[p] = name.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return out
