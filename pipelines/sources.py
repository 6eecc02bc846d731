"""Expand ``--input`` arguments into a sorted list of source videos.

Each PATH may be a video file, a folder (searched recursively for video extensions), a
glob (``footage/**/*.mp4``), a text file listing paths or URLs one per line (``.txt``
or ``.lst``, UTF-8 with or without a BOM; a line starting with ``#`` is a comment, so
``take #2.mp4`` is a name; relative paths are relative to the list file), or a
remote URL (``s3://``, ``gs://``, ... through fsspec; a URL ending in ``/`` is a folder).
A path given directly that does not exist is an error before any work starts (a typo);
a path inside a list file that does not exist is kept, so it reaches the probe stage
and becomes a ``not_found`` reject row instead of vanishing.
"""

from __future__ import annotations

import os

import fsspec

VIDEO_EXTENSIONS = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".mpg", ".mpeg", ".m4v", ".ts",
                    ".flv", ".wmv", ".3gp", ".ogv", ".mxf", ".m2ts", ".mts"}
LIST_EXTENSIONS = {".txt", ".lst"}


def _is_video(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def _protocol(path: str) -> str:
    return path.split("://", 1)[0] if "://" in path else "file"


def _join(fs, protocol: str, path: str) -> str:
    return path if protocol == "file" else f"{protocol}://{path}"


def _expand_one(arg: str) -> list[str]:
    protocol = _protocol(arg)
    fs = fsspec.filesystem(protocol)
    bare = arg if protocol == "file" else arg.split("://", 1)[1]
    if protocol == "file" and os.path.exists(bare):
        pass  # an existing name wins over glob syntax: "clip [1080p].mp4" is a file
    elif any(ch in bare for ch in "*?["):
        return [_join(fs, protocol, p) for p in fs.glob(bare) if _is_video(p)]
    if protocol == "file":
        bare = os.path.abspath(bare)
    if fs.isdir(bare):
        return [_join(fs, protocol, p) for p in fs.find(bare) if _is_video(p)]
    if os.path.splitext(bare)[1].lower() in LIST_EXTENSIONS and fs.isfile(bare):
        return _read_list(fs, protocol, bare)
    if protocol == "file" and not os.path.exists(bare):
        raise FileNotFoundError(f"--input {arg}: no such file or folder")
    return [_join(fs, protocol, bare)]


def _read_list(fs, protocol: str, path: str) -> list[str]:
    base = os.path.dirname(path)
    out = []
    with fs.open(path, "r", encoding="utf-8-sig") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "://" not in line and not os.path.isabs(line):
                line = os.path.join(base, line) if protocol == "file" else f"{base}/{line}"
            out.append(line if "://" in line or protocol == "file" else _join(fs, protocol, line))
    return out


def expand_inputs(args: list[str]) -> list[str]:
    """Sorted, de-duplicated source paths from ``--input`` arguments (see module docstring).

    Raises ValueError when nothing at all is found and FileNotFoundError for a local
    path given directly that does not exist.
    """
    found = sorted({p for arg in args for p in _expand_one(arg)})
    if not found:
        raise ValueError(f"no video files found in {args}")
    return found
