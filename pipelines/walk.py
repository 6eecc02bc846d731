"""The walk of the local folders one scan of the inputs names (:mod:`pipelines.sources`).

Every folder given to ``--input`` and every folder a glob matched is walked in one
:class:`LocalWalk`, so each real folder is searched once, whichever inputs reach it (a
break test: ``--input 'in/*'`` walked each match on its own and curated ``in/b`` again as
``in/lb``, ``in/self/b`` and ``in/up/in/b``, 35 sources for 7). Each file found is
``(path, rule)``: ``rule`` None, or why it is skipped whatever its name says
(:data:`HIDDEN`, :data:`INPUT`, :data:`GLOBBED`, :data:`ABOVE`, :data:`UNREADABLE`, not a regular file).

- Links to folders are followed (a linked subfolder of footage), but only after every
  folder reached through no link, so a real folder is listed under its own path (a
  hidden link to a visible folder had listed its videos as hidden, never curated).
- A hidden link, a link inside a hidden folder and a link to a hidden folder are
  listed as hidden, not followed (``c -> .hid`` had curated the hidden folder's videos).
- A link to an input folder named directly is listed (:data:`INPUT`: that folder is
  searched under its own path), as are a link to the folder
  a glob was matched in (:data:`GLOBBED`) and one to any folder above these
  (:data:`ABOVE`); none is followed.
- A folder that cannot be listed is one entry with its error; a FIFO, socket or device
  is one entry (nothing to read whole; a FIFO named ``pipe.mp4`` had held its probe for
  240 s).
- The walk keeps its own stacks: a tree of any depth is walked (``os.walk`` recursed, and
  1100 levels were a RecursionError).
"""

from __future__ import annotations

import os
import stat

HIDDEN = "hidden: a name starting with '.' inside a folder or glob"
ABOVE = "a link to a folder that holds the input folder: not followed"
INPUT = "a link to an input folder (searched under its own path): not followed"
GLOBBED = "a link to the folder a glob was matched in: not followed"
UNREADABLE = "folder cannot be read, its files were not searched"


class LocalWalk:
    """The local folders of one scan: :meth:`add` each, then :meth:`run` once."""

    def __init__(self):
        self._roots: list[tuple[str, bool, bool]] = []  # (folder, hidden, matched by a glob)
        self._tops: set[str] = set()  # real paths of the input folders and glob folders
        self._inputs: set[str] = set()  # real paths of the input folders named directly

    def add(self, root: str, hidden: bool = False, base: str | None = None) -> None:
        """Queue the folder ``root``; ``hidden``: all under it is hidden (a glob matched a
        hidden name); ``base``: the folder a glob matched ``root`` in (None: named directly)."""
        self._roots.append((root, hidden, base is not None))
        self._tops.add(os.path.realpath(base if base is not None else root))
        if base is None and not os.path.islink(root):
            self._inputs.add(os.path.realpath(root))

    def _link_rule(self, path: str) -> str | None:
        """Why the link to a folder at ``path`` is not followed, or None."""
        target = os.path.realpath(path)
        if target in self._inputs:  # (a new-user trial: it had been said to hold the input folder)
            return INPUT
        if target in self._tops:  # a glob's folder: only the glob's matches in it are searched (a review)
            return GLOBBED
        if any(_holds(target, top) for top in self._tops):
            return ABOVE
        return HIDDEN if os.path.basename(target).startswith(".") else None

    def run(self) -> list[tuple[str, str | None]]:
        """``(path, rule)`` of every file and passed-over entry under the queued folders,
        sorted by path (module docstring)."""
        out: list[tuple[str, str | None]] = []
        plain: list[tuple[str, bool]] = []  # folders reached through no link: walked first
        linked: list[tuple[str, bool]] = []
        for root, hidden, matched in reversed(self._roots):  # popped in the order given
            if not os.path.islink(root):
                plain.append((root, hidden))
            elif matched and (rule := self._link_rule(root)) is not None:
                out.append((root, HIDDEN if hidden else rule))
            else:
                linked.append((root, hidden))
        seen: set[tuple[int, int]] = set()
        while plain or linked:
            folder, hidden = plain.pop() if plain else linked.pop()
            try:
                st = os.stat(folder)
                if (st.st_dev, st.st_ino) in seen:  # searched under another path already
                    continue
                seen.add((st.st_dev, st.st_ino))
                with os.scandir(folder) as entries:
                    listed = sorted(entries, key=lambda e: e.name, reverse=True)  # popped in name order
            except OSError as exc:
                out.append((folder, HIDDEN if hidden else f"{UNREADABLE} ({exc.strerror or type(exc).__name__})"))
                continue
            for entry in listed:
                below = hidden or entry.name.startswith(".")
                kind = _kind(entry)
                if kind != "folder":
                    out.append((entry.path, HIDDEN if below else None if kind == "file" else kind))
                elif not entry.is_symlink():
                    plain.append((entry.path, below))
                elif below:
                    out.append((entry.path, HIDDEN))
                elif (rule := self._link_rule(entry.path)) is not None:
                    out.append((entry.path, rule))
                else:
                    linked.append((entry.path, False))
        return sorted(out)


def _holds(folder: str, path: str) -> bool:
    """Whether the real folder ``folder`` is ``path`` or holds it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _kind(entry: os.DirEntry) -> str:
    """``"folder"``, ``"file"`` (a regular file, or a link that points nowhere: its probe
    says ``not_found``) or the rule of another kind of file (:func:`special`)."""
    try:
        if entry.is_dir():  # follows links
            return "folder"
        if entry.is_file() or (entry.is_symlink() and not os.path.exists(entry.path)):
            return "file"
        mode = entry.stat().st_mode
    except OSError:
        return "file"  # gone or unreadable: its probe says so
    return special(mode)


def special(mode: int) -> str:
    """The rule for a file of ``mode`` that is neither a folder nor a regular file."""
    what = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "another kind")
    return f"not a regular file ({what}): nothing to read whole"


def special_rule(path: str) -> str | None:
    """:func:`special`'s rule for an existing local path that is no regular file or folder
    (a FIFO named ``clip.mp4`` given directly or listed), else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else special(mode)
