"""Expand ``--input`` and ``--input-list`` arguments into source videos and skipped files.

The input rule (README, "Inputs and flags of vidcurate run"):

- ``--input PATH``: PATH is a file, a folder (searched recursively), a glob
  (``footage/**/*.mp4``; a shell-expanded glob arrives as files and folders) or a URL
  (``s3://``, ``gs://``, ... through fsspec; a URL ending in ``/`` is a folder; an
  ``http(s)://`` address is always one file). Every
  file named or matched is a **source video** when its extension is in
  :data:`VIDEO_EXTENSIONS` (case-insensitive; animated ``.gif``/``.webp``/``.apng`` count,
  and a ``.png`` that is an APNG); any other file is **skipped** with the rule that
  skipped it (:class:`Skipped`), which the run lists in ``manifest.json``. Inside a
  folder or glob, hidden files and folders (a name starting with ``.``, e.g. macOS
  ``._clip.mp4``) are skipped too. Nothing is read as a list of
  paths, whatever its extension: a ``LICENSE.txt`` matched by ``*`` is skipped, not read.
- ``--input-list FILE`` (:class:`InputList` in the library API): FILE lists sources one
  per line (UTF-8 with or without a BOM; a line starting with ``#`` is a comment, so
  ``take #2.mp4`` is a name; relative paths are relative to the list file). Every line
  is a source whatever its extension; one that does not exist reaches the probe stage
  and becomes a ``not_found`` reject row instead of vanishing.

A path given directly (file, folder or list) that does not exist is an error before
any work starts (a typo). Files inside the run's own output folder (``exclude``: an
``--output`` inside an input folder) are never inputs, neither sources nor skipped:
otherwise a rerun of the same command would curate its own clips.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import fsspec
from fsspec.implementations.local import LocalFileSystem

from curate.ids import source_key
from pipelines.exits import InputNotFound, UsageError
from pipelines.pathtext import NOT_UTF8, is_binary, join_protocol, not_utf8, protocol_of, read_list, shown
from pipelines.walk import HIDDEN, LocalWalk, special_rule

ANIMATED_IMAGE_EXTENSIONS = {".gif", ".webp", ".apng"}
VIDEO_EXTENSIONS = {".mp4", ".mkv", ".mov", ".avi", ".webm", ".mpg", ".mpeg", ".m4v", ".ts",
                    ".flv", ".wmv", ".3gp", ".3g2", ".ogv", ".mxf", ".m2ts", ".mts", ".vob", ".dv",
                    ".f4v", ".asf", ".y4m", ".ivf", ".nut"} | ANIMATED_IMAGE_EXTENSIONS
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class InputList(str):
    """A path or URL to read as a list of sources (``--input-list``), e.g.
    ``run_pipeline(p, ["clips/", InputList("more.txt")], "out")``."""


@dataclass(frozen=True)
class Skipped:
    """A file named or matched by ``--input`` that is not a source video, and why."""

    path: str
    rule: str


@dataclass
class Inputs:
    """Sorted, de-duplicated source paths and the skipped files (sorted by path)."""

    sources: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # --input patterns that matched no file or folder


def is_apng(fs, path: str) -> bool:
    """True when the PNG at ``path`` is animated: an ``acTL`` chunk before the first ``IDAT``."""
    try:
        with fs.open(path, "rb") as f:
            if f.read(8) != _PNG_SIGNATURE:
                return False
            while len(head := f.read(8)) == 8:
                length, kind = int.from_bytes(head[:4], "big"), head[4:]
                if kind in (b"acTL", b"IDAT", b"IEND"):
                    return kind == b"acTL"
                f.seek(length + 4, os.SEEK_CUR)  # chunk data and CRC
    except OSError:
        return False
    return False


def skip_rule(fs, path: str) -> str | None:
    """None when ``path`` (a file) is a source video by the input rule, else the rule
    that skips it, e.g. ``"not a video extension (.txt); list files need --input-list"``."""
    ext = os.path.splitext(path)[1].lower()
    if ext in VIDEO_EXTENSIONS:
        return None
    if ext == ".png":
        return None if is_apng(fs, path) else "still PNG image (not an APNG)"
    if not ext:
        return "no file extension (name it in --input-list to curate it)"
    hint = "; list files need --input-list" if ext in (".txt", ".lst", ".csv") else ""
    return f"not a video extension ({ext}){hint}"


def _files(fs, root: str, matched: bool) -> list[tuple[str, str | None]]:
    """``(path, rule)`` for ``root`` itself when it is a file, else for every file under the
    store folder ``root`` (local folders go to :class:`pipelines.walk.LocalWalk`), ``rule``
    None or why the file is skipped whatever its name: hidden (a name starting with ``.``
    below ``root``, or ``root``'s own name when a glob ``matched`` it; a file named
    directly is never hidden), or not a regular file (a local FIFO named ``clip.mp4``)."""
    hidden = matched and os.path.basename(root.rstrip("/")).startswith(".")
    if not fs.isdir(root):
        local = isinstance(fs, LocalFileSystem)
        return [(root, HIDDEN if hidden else special_rule(root) if local else None)]
    prefix = root.rstrip("/") + "/"
    out = []
    for path in fs.find(root):
        if path.endswith("/"):  # an S3 "folder" marker (an empty key ending in /): no file
            continue
        rel = path[len(prefix):] if path.startswith(prefix) else os.path.basename(path)
        out.append((path, HIDDEN if hidden or any(part.startswith(".") for part in rel.split("/")) else None))
    return out


def _glob_base(pattern: str) -> str:
    """The folder a local glob is matched in: its leading parts without ``*?[``."""
    parts = pattern.split(os.sep)
    fixed = []
    for part in parts:
        if any(ch in part for ch in "*?["):
            break
        fixed.append(part)
    return os.path.abspath(os.sep.join(fixed) or ".")


def _expand_one(arg: str, found: Inputs, walk: LocalWalk) -> None:
    protocol = protocol_of(arg)
    if protocol != protocol.lower():  # HTTP://, S3://: schemes are case-insensitive (RFC 3986)
        arg = type(arg)(protocol.lower() + arg[len(protocol):])
        protocol = protocol.lower()
    try:
        fs = fsspec.filesystem(protocol)
    except (ValueError, ImportError) as exc:  # an unknown scheme, or one whose package is missing
        raise UsageError(f"--input {arg}: cannot read {protocol}:// URLs ({exc})") from None
    bare = arg.removeprefix("file://") if protocol == "file" else arg.split("://", 1)[1]  # file:///a is /a
    if isinstance(arg, InputList):
        if fs.isdir(bare):
            raise UsageError(f"--input-list {arg}: is a folder; --input-list takes a text file "
                             "listing one source per line (a folder of videos goes to --input)")
        if not fs.isfile(bare):
            raise InputNotFound(f"--input-list {arg}: no such file")
        try:
            for path in read_list(fs, protocol, os.path.abspath(bare) if protocol == "file" else bare):
                rule = special_rule(path) if "://" not in path else None  # a FIFO would hold its probe
                if rule is None:
                    found.sources.append(path)
                else:
                    found.skipped.append(Skipped(shown(path), rule))
        except UnicodeDecodeError:  # a video given to the wrong flag: found by a new-user walk-through
            with fs.open(bare, "rb") as f:
                head = f.read(8192)
            if not is_binary(head):  # text in another encoding (Latin-1, UTF-16, ...)
                raise UsageError(f"--input-list {arg}: not UTF-8 text; save the list as UTF-8 "
                                 "(a listed name that is not UTF-8 must be renamed)") from None
            raise UsageError(f"--input-list {arg}: not a text file listing one source per line "
                             "(a video file goes to --input)") from None
        return
    if protocol in ("http", "https"):  # a web address is one file (a page is no folder): fsspec keeps the scheme
        if not fs.exists(arg):
            raise InputNotFound(f"--input {arg}: no such file, or the server cannot be reached")
        rule = skip_rule(fs, re.split(r"[?#]", arg, maxsplit=1)[0])  # ?X-Amz-Signature=..., #t=2
        if rule is None:
            found.sources.append(arg)
        else:
            found.skipped.append(Skipped(arg, rule))
        return
    local = protocol == "file"
    magic = any(ch in bare for ch in "*?[")
    # an existing name wins over glob syntax, in a store too (s3://b/Movie [1080p].mp4)
    exists = os.path.exists(bare) if local else (magic and fs.exists(bare))
    if local and exists:
        root = os.path.abspath(bare)
        paths = [] if os.path.isdir(root) else _files(fs, root, False)
        if not paths:
            walk.add(root)
    elif magic and not exists:
        paths, matches = [], fs.glob(bare)
        if not matches:
            found.unmatched.append(arg)
        for match in matches:
            if local and os.path.isdir(match):  # with the other local folders: each once
                walk.add(match, os.path.basename(match).startswith("."), base=_glob_base(bare))
            else:
                paths += _files(fs, match, True)
    elif local or not fs.exists(bare):  # a store URL is checked like a local path
        raise InputNotFound(f"--input {arg}: no such file or folder")
    else:
        paths = _files(fs, bare, False)
    _take(fs, protocol, paths, found)


def _take(fs, protocol: str, paths: list[tuple[str, str | None]], found: Inputs) -> None:
    """Add ``(path, rule)`` pairs to ``found``: a source, or a skipped file with its rule
    (the given one, else the name's: not UTF-8, not a video extension)."""
    for path, rule in paths:
        rule = rule or (NOT_UTF8 if not_utf8(path) else skip_rule(fs, path))
        if rule is None:
            found.sources.append(join_protocol(protocol, path))
        else:
            found.skipped.append(Skipped(shown(join_protocol(protocol, path)), rule))


def _inside(path: str, folder: str) -> bool:
    """Whether ``path`` (a local path or URL) is ``folder`` or below it; local paths are
    compared with their links resolved."""
    if "://" in path or "://" in folder:
        folder = folder.rstrip("/")
        return path == folder or path.startswith(folder + "/")
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def scan_inputs(args: list[str], exclude: str | None = None) -> Inputs:
    """Source videos and skipped files for ``--input`` arguments (module docstring);
    :class:`InputList` arguments are read as list files. ``exclude``: the run's output
    folder (local path or URL, as :func:`curate.store.resolve` gives it), whose files are
    left out.

    Raises ValueError when no source at all is found (naming what was skipped) and
    FileNotFoundError for a path given directly that does not exist.
    """
    if not args:
        raise UsageError("no inputs: give --input PATH ... and/or --input-list FILE ...")
    found, walk = Inputs(), LocalWalk()
    for arg in args:
        _expand_one(arg, found, walk)
    _take(fsspec.filesystem("file"), "file", walk.run(), found)
    inside_output = 0
    if exclude:
        kept = [p for p in found.sources if not _inside(p, exclude)]
        inside_output = len(found.sources) - len(kept)
        found.sources = kept
        found.skipped = [s for s in found.skipped if not _inside(s.path, exclude)]
    by_key: dict[str, str] = {}
    for path in sorted(set(found.sources)):  # one address signed twice is one source: the first
        by_key.setdefault(source_key(path), path)
    sources = sorted(by_key.values())
    taken = set(found.sources)
    skipped = sorted({s for s in found.skipped if s.path not in taken}, key=lambda s: s.path)
    if not sources:
        why = "; ".join(f"{os.path.basename(s.path)}: {s.rule}" for s in skipped[:5])
        unmatched = ", ".join(found.unmatched)
        raise UsageError(f"no video files found in {list(args)}"
                         + (f" (skipped {len(skipped)}: {why})" if why else "")
                         + (f"; no file or folder is named or matched by {unmatched} (a name with"
                            " * ? or [ that does not exist is read as a pattern)" if unmatched else "")
                         + (f"; {inside_output} more lie inside --output {exclude}, and nothing"
                            " inside the output folder is read as input" if inside_output else ""))
    return Inputs(sources, skipped)


def expand_inputs(args: list[str]) -> list[str]:
    """Sorted, de-duplicated source paths of :func:`scan_inputs` (skipped files dropped).

    Raises ValueError when nothing at all is found and FileNotFoundError for a local
    path given directly that does not exist.
    """
    return scan_inputs(args).sources
