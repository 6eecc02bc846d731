"""Earlier runs' clips (``--dedup-against``): their ids and hashes, read with pyarrow.

A path is a run's output folder (its ``index.parquet`` is used) or an ``index.parquet``
itself, a single file or a dataset folder of several files; local paths and fsspec
URLs (``s3://``, ``gs://``, ``file://``) alike. Only the ``clip_id`` and ``phash``
columns are read, batch by batch, so memory is the codes (``phash`` bytes per clip)
plus the ids. Before any work, :func:`check_earlier` reads every row's values too (ids,
hex hashes, the signatures' fields), so a damaged index is refused then, not after the
per-source phase (found by a break tester).
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field

import fsspec
import numpy as np

from curate import store
from curate.dedup.codes import hex_codes

HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")  # a phash: whole bytes of hex
TEXT_COLUMNS = ("clip_id", "phash", "dedup_signature")  # read as strings when present


@dataclass
class EarlierClips:
    """Clips of one hash length from earlier runs, sorted by (run position, clip id).

    ``codes``: ``(M, B) uint8``; ``clip_ids``: ``(M,)`` str; ``runs``: ``(M,) int32``
    positions in ``paths``. The first row of a group is the one a duplicate is named after.
    """

    codes: np.ndarray
    clip_ids: np.ndarray
    runs: np.ndarray


@dataclass
class EarlierIndex:
    """Every earlier run's clips, by hash length in hex characters (see module docstring)."""

    paths: list[str]
    by_len: dict[int, EarlierClips] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(c.clip_ids) for c in self.by_len.values())


def locate_index(path: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem and ``index.parquet`` path of an earlier run folder or index path.

    Raises FileNotFoundError naming ``path`` when neither exists.
    """
    fs, root = fsspec.core.url_to_fs(path)
    candidates = [root] if root.rstrip("/").endswith(".parquet") else []
    candidates.append(posixpath.join(root, "index.parquet"))
    for p in candidates:
        if fs.exists(p):
            return fs, p
    raise FileNotFoundError(f"--dedup-against {path}: no earlier run's index.parquet there")


def open_index(path: str, located: tuple[fsspec.AbstractFileSystem, str] | None = None):
    """The ``pyarrow.dataset.Dataset`` of an earlier run's index (folder or index path;
    ``located``: what :func:`locate_index` gave for it already). Raises FileNotFoundError
    when there is none, ValueError when it is not readable Parquet or lacks
    ``clip_id``/``phash``."""
    import pyarrow.dataset as pads  # here: it imports pandas (0.2 s), and only --dedup-against reads

    fs, p = located or locate_index(path)
    try:
        ds = pads.dataset(p, filesystem=fs, format="parquet")
    except (OSError, ValueError) as exc:
        raise ValueError(f"--dedup-against {path}: {p} is not a readable Parquet index "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    missing = {"clip_id", "phash"} - set(ds.schema.names)
    if missing:
        raise ValueError(f"--dedup-against {path}: index has no {sorted(missing)} column "
                         "(give a run's output folder or its index.parquet)")
    return ds


def _same_file(fs, a: str, b: str) -> bool:
    """Whether the store paths ``a`` and ``b`` of ``fs`` name one file: the same normalised
    path, or on a local disk the same file through a symlink or another spelling of a
    folder (``os.path.realpath``, then ``os.path.samefile`` when both exist)."""
    if posixpath.normpath(a) == posixpath.normpath(b):
        return True
    if not store.is_local(fs):
        return False
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_earlier(paths: list[str], output: str) -> None:
    """Refuse earlier runs that cannot be used, before any work: the errors of
    :func:`open_index` and :func:`check_values`, and the run's own ``output`` folder or
    index (ValueError: every clip would be a duplicate of itself and the output's index
    and shards emptied; found by a helper)."""
    own_fs, own = fsspec.core.url_to_fs(posixpath.join(output.rstrip("/"), "index.parquet"))
    for path in paths:
        fs, p = locate_index(path)
        if type(fs) is type(own_fs) and _same_file(fs, p, own):
            raise ValueError(f"--dedup-against {path}: that is this run's own --output; name earlier runs only")
        check_values(path, open_index(path, (fs, p)))


def _bad(path: str, row: int, column: str, why: str) -> ValueError:
    return ValueError(f"--dedup-against {path}: index row {row}, column {column}: {why} "
                      "(give a vidcurate run's output folder or its index.parquet)")


def check_rows(path: str, row0: int, ids: list, hashes: list) -> None:
    """Raise ValueError (one line naming ``path``, the row and the column) unless every
    clip id is a non-empty string and every hash is empty or whole bytes of hex
    (``row0``: the index row of the first value)."""
    for k, (cid, h) in enumerate(zip(ids, hashes)):
        if not isinstance(cid, str) or not cid:
            raise _bad(path, row0 + k, "clip_id", f"{cid!r} is not a clip id")
        if h and not (isinstance(h, str) and HEX.fullmatch(h)):
            raise _bad(path, row0 + k, "phash", f"{str(h)[:40]!r} is not a hex hash")


def check_values(path: str, ds) -> None:
    """Refuse (ValueError, one line naming the row and column) an earlier index ``ds``
    (:func:`open_index` of ``path``) whose values cannot be used: a ``clip_id``,
    ``phash`` or ``dedup_signature`` column that is not text, a row without a clip id, a
    hash that is not hex, a signature that is not one the embed stage writes
    (:func:`curate.dedup.signature.check`: its fields and gist, without inflating its
    thumbnails). Every row is read: about 3 us a row."""
    import pyarrow as pa

    from curate.dedup.signature import check

    cols = [c for c in TEXT_COLUMNS if c in ds.schema.names]
    for c in cols:
        t = ds.schema.field(c).type
        if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
            raise ValueError(f"--dedup-against {path}: index column {c} holds {t}, not text "
                             "(give a vidcurate run's output folder or its index.parquet)")
    row = 0
    for batch in ds.to_batches(columns=cols, batch_size=4096):
        check_rows(path, row, batch.column("clip_id").to_pylist(), batch.column("phash").to_pylist())
        if "dedup_signature" in cols:
            for k, text in enumerate(batch.column("dedup_signature").to_pylist()):
                if text:
                    try:
                        check(text)
                    except ValueError as exc:
                        raise _bad(path, row + k, "dedup_signature", str(exc)) from None
        row += batch.num_rows


def _read_one(path: str) -> dict[int, tuple[list[str], list[str]]]:
    """{hash length: (clip ids, hashes)} of one earlier index, empty hashes skipped."""
    out: dict[int, tuple[list[str], list[str]]] = {}
    row = 0
    for batch in open_index(path).to_batches(columns=["clip_id", "phash"]):
        ids, hashes = batch.column("clip_id").to_pylist(), batch.column("phash").to_pylist()
        check_rows(path, row, ids, hashes)
        row += batch.num_rows
        for cid, h in zip(ids, hashes):
            if h:
                ids, hashes = out.setdefault(len(h), ([], []))
                ids.append(cid)
                hashes.append(h)
    return out


def load_earlier(paths: list[str]) -> EarlierIndex:
    """Read every earlier run in ``paths`` (in order) into an :class:`EarlierIndex`.

    Raises FileNotFoundError for a path with no index, ValueError for an index without
    ``clip_id``/``phash`` columns or with a malformed id or hash (:func:`check_rows`).
    """
    index = EarlierIndex(list(paths))
    parts: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for run, path in enumerate(paths):
        for length, (ids, hashes) in _read_one(path).items():
            ids_arr = np.array(ids, dtype=object)
            order = np.argsort(ids_arr.astype(str), kind="stable")
            codes = hex_codes(hashes, length // 2)[order]
            parts.setdefault(length, []).append((codes, ids_arr[order], np.full(len(ids), run, np.int32)))
    for length, chunks in parts.items():
        codes, ids, runs = (np.concatenate(c) for c in zip(*chunks))
        index.by_len[length] = EarlierClips(codes, ids, runs)
    return index
