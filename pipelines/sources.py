"""Expand ``--input`` and ``--input-list`` arguments into source videos and skipped files.

The input rule (README, "Inputs"):

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
import posixpath
import re
import stat
from dataclasses import dataclass, field

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipelines.exits import InputNotFound, UsageError

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


def _protocol(path: str) -> str:
    return path.split("://", 1)[0] if "://" in path else "file"


def _join(protocol: str, path: str) -> str:
    return path if protocol == "file" else f"{protocol}://{path}"


_HIDDEN = "hidden: a name starting with '.' inside a folder or glob"


def _files(fs, root: str, matched: bool) -> list[tuple[str, str | None]]:
    """``(path, rule)`` for ``root`` itself when it is a file, else for every file under it
    (recursive), ``rule`` None or why the file is skipped whatever its name: hidden (a
    name starting with ``.`` below ``root``, or ``root``'s own name when a glob
    ``matched`` it; a file named directly is never hidden), or, for a local folder passed
    over (:func:`_local_find`), why, the folder itself standing as the path."""
    hidden = matched and os.path.basename(root.rstrip("/")).startswith(".")
    if not fs.isdir(root):
        special = None
        if isinstance(fs, LocalFileSystem) and os.path.exists(root) and not os.path.isfile(root):
            special = _special(os.stat(root).st_mode)  # a FIFO named clip.mp4: no probe waits on it
        return [(root, _HIDDEN if hidden else special)]
    prefix = root.rstrip("/") + "/"

    def below_hidden(path: str) -> bool:
        rel = path[len(prefix):] if path.startswith(prefix) else os.path.basename(path)
        return hidden or any(part.startswith(".") for part in rel.split("/"))

    out: list[tuple[str, str | None]] = []
    if isinstance(fs, LocalFileSystem):
        found, passed = _local_find(root)
        out += [(folder, _HIDDEN if below_hidden(folder) else rule)
                for folder, rule in passed]  # e.g. a locked .Trashes is just hidden
    else:
        found = fs.find(root)
    for path in found:
        if path.endswith("/"):  # an S3 "folder" marker (an empty key ending in /): no file
            continue
        out.append((path, _HIDDEN if below_hidden(path) else None))
    return out


def _local_find(root: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Every file under the local folder ``root``, sorted, and what was passed over below
    it, with why (sorted): a folder that could not be listed, with the error's text (a
    break test: they were left out silently), a link to a folder that holds ``root``, a
    link to a folder inside a hidden folder (or itself hidden), and a file that is no
    regular file (a FIFO named ``.mp4`` had held its probe for 240 s).

    Links to folders are followed (a linked subfolder of footage: a break test found it
    listed as one file "with no extension" and never searched), each real folder once,
    under its own path where it has one: folders reached through no link are walked
    first (a hidden link to a visible folder had listed its videos as hidden, under the
    link's name). A link back up to ``root`` or above is not followed (a link to the
    input's parent brought in every folder beside the input). The walk keeps its own
    stacks, so a tree of any depth is walked (``os.walk`` recursed: 1100 levels were a
    RecursionError, exit 1). A link that points nowhere is listed as a file (its probe
    says ``not_found``)."""
    files, passed, seen = [], [], set()
    plain, linked = [(root, False)], []  # (folder, hidden): folders through no link first
    top = os.path.realpath(root)
    while plain or linked:
        folder, hidden = plain.pop() if plain else linked.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda e: e.name, reverse=True)  # popped in name order
        except OSError as exc:
            passed.append((folder, f"{_UNREADABLE} ({exc.strerror or type(exc).__name__})"))
            continue
        for entry in listed:
            kind = _kind(entry)
            below_hidden = hidden or entry.name.startswith(".")
            if kind == "file":
                files.append(entry.path)
            elif kind != "folder":
                passed.append((entry.path, kind))
            elif not entry.is_symlink():
                plain.append((entry.path, below_hidden))
            elif below_hidden:
                passed.append((entry.path, _HIDDEN))  # hidden anyway: not followed
            elif _above(os.path.realpath(entry.path), top):
                passed.append((entry.path, _ABOVE))
            else:
                linked.append((entry.path, False))
    return sorted(files), sorted(passed)


def _kind(entry: os.DirEntry) -> str:
    """``"folder"``, ``"file"`` (a regular file, or a link that points nowhere) or why
    another kind of file is passed over."""
    try:
        if entry.is_dir():  # follows links
            return "folder"
        if entry.is_file() or (entry.is_symlink() and not os.path.exists(entry.path)):
            return "file"
        mode = entry.stat().st_mode
    except OSError:
        return "file"  # gone or unreadable: its probe says so
    return _special(mode)


def _special(mode: int) -> str:
    """The rule for a file of ``mode`` that is neither a folder nor a regular file."""
    what = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "another kind")
    return f"not a regular file ({what}): nothing to read whole"


_ABOVE = "a link to a folder that holds the input folder: not followed"


def _above(target: str, top: str) -> bool:
    """Whether the real folder ``target`` is ``top`` or holds it: a link to it would take
    the walk back up (a break test: a link to the input's parent brought in every folder
    beside the input)."""
    return top == target or top.startswith(target.rstrip(os.sep) + os.sep)


_UNREADABLE = "folder cannot be read, its files were not searched"


def _expand_one(arg: str, found: Inputs) -> None:
    protocol = _protocol(arg)
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
            found.sources += _read_list(fs, protocol, os.path.abspath(bare) if protocol == "file" else bare)
        except UnicodeDecodeError:  # a video given to the wrong flag: found by a new-user walk-through
            with fs.open(bare, "rb") as f:
                head = f.read(8192)
            if not _binary(head):  # text in another encoding (Latin-1, UTF-16, ...)
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
    if protocol == "file" and os.path.exists(bare):
        paths = _files(fs, os.path.abspath(bare), False)  # an existing name wins over glob syntax
    elif any(ch in bare for ch in "*?["):
        paths = [p for match in fs.glob(bare) for p in _files(fs, match, True)]
    elif protocol == "file" or not fs.exists(bare):  # a store URL is checked like a local path
        raise InputNotFound(f"--input {arg}: no such file or folder")
    else:
        paths = _files(fs, bare, False)
    for path, rule in paths:
        rule = rule or (_NOT_UTF8 if not_utf8(path) else skip_rule(fs, path))
        if rule is None:
            found.sources.append(_join(protocol, path))
        else:
            found.skipped.append(Skipped(shown(_join(protocol, path)), rule))


_NOT_UTF8 = "name is not UTF-8 (e.g. Latin-1 from an old archive): rename it to curate it"


def not_utf8(path: str) -> bool:
    """Whether ``path`` holds bytes that are not UTF-8 (Python gives them as lone
    surrogates, ``os.fsdecode``): records, ids and shards need text, so such a file is
    skipped with :data:`_NOT_UTF8` rather than stop the run (a break test: exit 1)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def shown(path: str) -> str:
    """``path`` as text that can be written anywhere: bytes that are not UTF-8 as ``\\xNN``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _binary(head: bytes) -> bool:
    """Whether a file starting with ``head`` is no text: it holds NUL bytes and is not
    UTF-16 (a byte-order mark, or NULs in every other byte as UTF-16 gives ASCII)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    odd, even = head[1::2], head[0::2]
    utf16 = len(head) >= 4 and (odd.count(0) > 0.9 * len(odd) or even.count(0) > 0.9 * len(even))
    return b"\0" in head and not utf16


def _read_list(fs, protocol: str, path: str) -> list[str]:
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
            out.append(line if "://" in line or protocol == "file" else _join(protocol, line))
    return out


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
    found = Inputs()
    for arg in args:
        _expand_one(arg, found)
    if exclude:
        found.sources = [p for p in found.sources if not _inside(p, exclude)]
        found.skipped = [s for s in found.skipped if not _inside(s.path, exclude)]
    sources = sorted(set(found.sources))
    taken = set(sources)
    skipped = sorted({s for s in found.skipped if s.path not in taken}, key=lambda s: s.path)
    if not sources:
        why = "; ".join(f"{os.path.basename(s.path)}: {s.rule}" for s in skipped[:5])
        raise UsageError(f"no video files found in {list(args)}"
                         + (f" (skipped {len(skipped)}: {why})" if why else ""))
    return Inputs(sources, skipped)


def expand_inputs(args: list[str]) -> list[str]:
    """Sorted, de-duplicated source paths of :func:`scan_inputs` (skipped files dropped).

    Raises ValueError when nothing at all is found and FileNotFoundError for a local
    path given directly that does not exist.
    """
    return scan_inputs(args).sources
