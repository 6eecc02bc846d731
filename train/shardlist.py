"""Shard lists: which WebDataset shards a ``--shards`` spec names.

A spec is a local path, a run's output folder (its ``shards/*.tar``), a glob, a brace
range (``shard-{000000..000009}.tar``) or an fsspec URL (``s3://``, ``gs://``,
``http(s)://``, chained ``simplecache::s3://...``), or a list of them
(:func:`expand_shards`). Reading the shards is :mod:`train.shards`.
"""

from __future__ import annotations

import glob
import os
import tarfile

import braceexpand
import fsspec

def _is_remote(url: str) -> bool:
    return "://" in url and not url.startswith("file://")


def _local(url: str) -> str:
    return url[len("file://"):] if url.startswith("file://") else url


def _remote_fs(spec: str):
    """``(filesystem, path)`` of a store URL (fsspec). Raises FileNotFoundError naming the
    protocol when fsspec knows none of that name (``htps://``, ``s4://``: it had been an
    internal error, a break test), or the package it needs (``gs://`` without gcsfs)."""
    try:
        return fsspec.core.url_to_fs(spec)
    except ImportError as err:  # a known protocol whose package is missing (gs:// without gcsfs)
        raise FileNotFoundError(f"{spec}: {err}") from err
    except ValueError as err:
        if "protocol not known" not in str(err).lower():
            raise
        protocol = spec.split("://", 1)[0]
        raise FileNotFoundError(f"{spec}: no storage protocol {protocol!r} is known (s3://, gs://, http(s)://, "
                                "file:// and the others fsspec has; a typo?)") from err


def _pattern(spec: str) -> bool:
    """Whether a store URL holds glob characters; a web address's query (``?sig=...``) and
    fragment are none (each such URL had been listed as a pattern first: two requests)."""
    if spec.split("://", 1)[0] in ("http", "https"):
        spec = spec.split("?", 1)[0].split("#", 1)[0]
    return glob.has_magic(spec)


def _as_url(spec: str, path: str) -> str:
    """A path that fsspec listed for the URL ``spec`` as a URL again: store paths come
    without their protocol, web paths as whole URLs; a chained URL's cache layer
    (``simplecache::s3://...``) is kept, which ``unstrip_protocol`` drops (a review)."""
    chain, _, last = spec.rpartition("::")
    url = path if "://" in path else f"{last.split('://', 1)[0]}://{path}"
    return f"{chain}::{url}" if chain else url


def _expand_one(spec: str) -> list[str]:
    if _is_remote(spec):
        fs, path = _remote_fs(spec)  # an unknown protocol is said here, before any training starts
        if _pattern(spec):
            return sorted(_as_url(spec, p) for p in fs.glob(path))
        if spec.endswith(".tar") or spec.split("://", 1)[0] in ("http", "https"):
            return [spec]  # a web address is one file (listing it would download it)
        try:  # a run's folder URL means its shards/*.tar, as a local folder does
            named = _listed(fs, path, spec)
        except Exception:  # noqa: BLE001 - a store that cannot be listed from here: read as one shard, said there
            named = None
        return named or [spec]
    path = _local(spec)
    if os.path.isdir(path):  # its name is a name, not a pattern: out[1] is a folder called so
        sub = os.path.join(path, "shards")
        return sorted(glob.glob(os.path.join(glob.escape(sub if os.path.isdir(sub) else path), "*.tar")))
    return sorted(glob.glob(path)) if glob.has_magic(path) and not os.path.exists(path) else [path]


def _remote_as_named(spec: str) -> list[str] | None:
    """The shards of a store URL with glob or brace characters that exists as named (an
    output ``s3://b/out [1]``): a folder's ``shards/*.tar`` or else its ``*.tar``, listed
    (no pattern), or the object itself; None when nothing has that name."""
    return _listed(*_remote_fs(spec), spec)


def _listed(fs, path: str, spec: str) -> list[str] | None:
    """:func:`_remote_as_named` on the filesystem ``fs`` and ``path`` of ``spec``."""
    if fs.isdir(path):
        sub = path.rstrip("/") + "/shards"
        folder = sub if fs.isdir(sub) else path
        return sorted(_as_url(spec, p) for p in fs.ls(folder, detail=False) if p.endswith(".tar"))
    return [spec] if fs.exists(path) else None


def _kept_none(specs: list[str]) -> str:
    """Why a local run folder of ``specs`` has no shards, where its ``manifest.json`` says it
    kept no clip (a new-user trial: "no shards match" alone did not say), else ``""``."""
    import json

    for s in specs:
        try:
            with open(os.path.join(_local(s), "manifest.json"), encoding="utf-8") as f:
                if json.load(f).get("counts", {}).get("clips_kept") == 0:
                    return f" ({s} is a run that kept no clips: see its manifest.json and rejects.parquet)"
        except (OSError, ValueError, AttributeError):
            continue
    return ""


def expand_shards(spec: str | os.PathLike | list) -> list[str]:
    """Shard URLs from a path, run folder, glob, brace range or fsspec URL (or a list).

    A folder means its ``shards/*.tar`` (a run's output folder) or else its ``*.tar``.
    Brace ranges (``shard-{000000..000009}.tar``) expand first, then globs; a path that
    exists is taken as it is named (a folder ``out[1]`` or ``run{a,b}``; in a store too).
    Raises FileNotFoundError when nothing matches, a listed local file is missing, or one
    not named ``.tar`` is no tar archive (a run's ``index.parquet``).
    """
    specs = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    specs = [os.fspath(s) for s in specs]
    urls: list[str] = []
    for s in specs:
        if _is_remote(s) and (_pattern(s) or "{" in s):
            named = _remote_as_named(s)
            if named is not None:  # an existing name wins over glob and brace syntax
                urls.extend(named)
                continue
        literal = not _is_remote(s) and os.path.exists(_local(s))  # an existing path is taken as named
        for part in [s] if literal else braceexpand.braceexpand(s):
            urls.extend(_expand_one(part))
    if not urls:
        raise FileNotFoundError(f"no shards match {spec!r}" + _kept_none(specs))
    missing = [u for u in urls if not _is_remote(u) and not os.path.isfile(_local(u))]
    if missing:
        raise FileNotFoundError(f"shard files not found: {missing[:5]}")
    other = [u for u in urls if not _is_remote(u) and not u.endswith(".tar") and not tarfile.is_tarfile(_local(u))]
    if other:  # a run's index.parquet given as shards had been "a truncated or corrupt tar" (a new-user trial)
        raise FileNotFoundError(f"not a shard (a WebDataset .tar): {other[:5]}; give the run folder, "
                                "its shards/*.tar or shard files")
    return urls
