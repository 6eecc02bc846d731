"""Shard writing: WebDataset tars of ``<key>.mp4``, ``<key>.json`` and ``<key>.txt``.

The assignment of clips to shards is decided from metadata alone (:func:`plan_shards`,
on the driver): kept clips in clip-id order, a shard closing once adding the next clip
would pass ``target_mb`` of clip bytes (``record.clip.size_bytes``). Each shard is then
packed independently (:func:`write_shard`, one Ray task per shard on any node): its
clips are read from the output store, the tar is built in node-local scratch exactly as
webdataset's ``TarWriter`` builds it (fixed mtime, user and mode) and put to
``<output>/shards/shard-NNNNNN.tar`` in one atomic upload (:mod:`curate.store`), so
readers never see half a shard and the same inputs and settings give byte-identical
shards whatever the number of nodes or workers.

A shard's ``<key>.mp4`` member is the clip's encoded bytes unchanged, so a run whose
``work/clips`` was cleaned (``keep_work: false``, :mod:`pipelines.workstore`) gets its
clips back from the shards that hold them (:func:`unpack_clips`) before repacking.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import Field

from curate import store
from curate.stage import Stage
from schemas import ClipRecord

SHARD_PATTERN = "shard-{:06d}.tar"


@dataclass(frozen=True)
class ShardInfo:
    """A finished shard: file name, sample count, bytes and SHA-256 (hex)."""

    name: str
    samples: int
    bytes: int
    sha256: str


def sha256_file(path: str) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def caption_text(rec: ClipRecord, variant: str = "text") -> str:
    """The text of ``<key>.txt``: the record's caption (empty when there is none).

    ``variant`` picks a model caption's ``short``, ``long``, ``events`` (one
    ``"a-b s: text"`` per event, joined by ``"; "``, or by a space after an event that
    ends its sentence) or ``signals``; ``text`` (or a variant
    the caption lacks, e.g. after a degenerate model answer) gives ``caption.text``.
    """
    cap = rec.caption
    if cap is None:
        return ""
    if variant == "events" and cap.events:
        parts = [f"{e.start_s:.1f}-{e.end_s:.1f} s: {e.text}" for e in cap.events]
        # "; " between events, a space after one that ends its sentence ("a hand.; 1.0-2.5 s" before)
        return "".join(p + ("" if i == len(parts) - 1 else " " if p[-1:] in ".!?" else "; ")
                       for i, p in enumerate(parts))
    chosen = {"short": cap.short, "long": cap.long, "signals": cap.signals}.get(variant)
    return chosen or cap.text


STAGING = "shards-next"  # under <output>/work/: shards packed, not yet moved into shards/


@dataclass(frozen=True)
class ShardJob:
    """One shard to pack: its store location and, per sample in order, the clip's store
    location, key, ``<key>.json`` bytes and ``<key>.txt`` bytes (metadata only)."""

    name: str
    location: str
    samples: list[tuple[str, str, bytes, bytes]]


def plan_shards(records: Iterable[ClipRecord], target_mb: float) -> list[list[ClipRecord]]:
    """Cut ``records`` (sorted here by clip id) into shards by cumulative clip bytes.

    A shard closes once adding the next clip's ``clip.size_bytes`` would pass
    ``target_mb`` (1 MB = 10^6 bytes); a single larger clip gets a shard of its own.
    Sets ``record.shard`` to the shard's file name. Pure metadata: no clip is read.
    """
    limit = target_mb * 1e6
    groups: list[list[ClipRecord]] = []
    size = 0
    for rec in sorted(records, key=lambda r: r.clip_id):
        if groups and groups[-1] and size + rec.clip.size_bytes > limit:
            groups.append([])
            size = 0
        if not groups:
            groups.append([])
        groups[-1].append(rec)
        size += rec.clip.size_bytes
    for index, group in enumerate(groups):
        for rec in group:
            rec.shard = SHARD_PATTERN.format(index)
    return groups


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """One member as webdataset's ``TarWriter(user="vidcurate", group="vidcurate",
    mode=0o644, mtime=0)`` writes it (tested byte-identical)."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uname = info.gname = "vidcurate"
    tar.addfile(info, io.BytesIO(data))


def write_shard(job: ShardJob) -> ShardInfo:
    """Pack one shard (run on a worker): read its clips from the store, build the tar in
    node-local scratch (deleted after), upload it atomically. Returns its info.

    Each sample is ``<key>.json``, ``<key>.mp4``, ``<key>.txt`` (webdataset's member
    order: extensions sorted), written with the standard library's ``tarfile`` exactly
    as ``webdataset.TarWriter`` writes them: importing webdataset imports torch, about
    a second of every run. Raises FileNotFoundError when a clip is missing from the store.
    """
    with tempfile.TemporaryDirectory(prefix="vidcurate-shard-") as scratch:
        local = os.path.join(scratch, job.name)
        with open(local, "wb") as f, tarfile.open(fileobj=f, mode="w|") as tar:
            for clip_location, key, meta, txt in job.samples:
                members = {"json": meta, "mp4": store.read_bytes(clip_location), "txt": txt}
                for ext in sorted(members):
                    _add(tar, f"{key}.{ext}", members[ext])
        info = ShardInfo(name=job.name, samples=len(job.samples), bytes=os.path.getsize(local),
                         sha256=sha256_file(local))
        store.upload(local, job.location)
    return info


def unpack_clips(location: str, sizes: dict[str, int], clips_dir: str) -> list[str]:
    """Copy clips back out of the shard at ``location`` (run on a worker).

    ``sizes``: ``{clip_id: size_bytes}`` of the clips wanted (``record.clip.size_bytes``);
    each ``<clip_id>.mp4`` member found with exactly that size is put to
    ``<clips_dir>/<clip_id>.mp4`` (one atomic put each, :func:`curate.store.write_bytes`).
    The tar is streamed once, one member in memory at a time, and left unchanged.
    Returns the clip ids restored; a missing or unreadable shard (or a member cut short)
    restores what came before it and raises nothing: the caller extracts the rest again.
    """
    got: list[str] = []
    fs, path = store.filesystem(location)
    try:
        with fs.open(path, "rb") as f, tarfile.open(fileobj=f, mode="r|") as tar:
            for member in tar:
                key, _, ext = member.name.partition(".")
                if ext != "mp4" or key not in sizes or not member.isfile() or member.size != sizes[key]:
                    continue
                store.write_bytes(store.join(clips_dir, member.name), tar.extractfile(member).read())
                got.append(key)
                if len(got) == len(sizes):
                    break
    except (OSError, tarfile.TarError):
        pass
    return got


class ShardStage(Stage):
    """Pack kept clips into shards under ``<output>/shards/`` (module docstring).

    Config: ``target_mb`` (shard size target, MB of clip bytes; a single larger clip
    still gets its own shard).
    """

    name = "shards"
    stage: Literal["shards"] = "shards"
    target_mb: float = Field(256.0, gt=0)

    def jobs(self, records: list[ClipRecord], clip_file: Callable[[str], str], out_dir: str,
             text: Callable[[ClipRecord], str] = caption_text) -> list[ShardJob]:
        """The shard jobs for ``records`` (:func:`plan_shards`; sets ``record.shard``).

        ``clip_file(clip_id)`` gives a clip's store location; ``out_dir`` is the output.
        """
        out = []
        for index, group in enumerate(plan_shards(records, self.target_mb)):
            name = SHARD_PATTERN.format(index)
            samples = [(clip_file(r.clip_id), r.clip_id, r.sample_json(), text(r).encode())
                       for r in group]
            out.append(ShardJob(name, store.join(out_dir, "shards", name), samples))
        return out

    def write(self, records: list[ClipRecord], clip_file: Callable[[str], str], out_dir: str,
              text: Callable[[ClipRecord], str] = caption_text,
              pack: Callable[[list[ShardJob]], list[ShardInfo]] | None = None, staging: str = "run",
              before_moves: Callable[[], None] | None = None) -> list[ShardInfo]:
        """Write shards for ``records`` and return their infos, in shard order.

        ``pack`` runs the jobs (e.g. one Ray task each); by default they run here, one
        after another. Every shard is packed under ``<out_dir>/work/shards-next/`` first
        and moved into ``shards/`` once all are packed, so a run that stops while packing
        (the long part) leaves the earlier run's shards and index as they were (found by a
        break test: a run killed between rewriting one shard and writing the index left
        index rows without samples and samples in no index); what is left is the short
        window of the moves and the index's put, which the same command repairs. Shards of
        an earlier run that had more are left: the caller removes them (:func:`remove_stale`)
        once its index no longer names them (a break test: a rerun into fewer shards,
        stopped between their removal and the index's put, left an index naming 9 missing
        shards). ``staging``: this run's own
        folder under ``shards-next/`` (its lease owner: a run that took the output over
        never moves another's shards); ``before_moves()`` is called once all are packed
        and may raise to stop before any move (the lease check). Raises FileNotFoundError
        when a clip is missing from the store.
        """
        jobs = self.jobs(records, clip_file, out_dir, text)
        root = store.join(out_dir, "work", STAGING)
        remove_leftovers(out_dir)
        staging = store.join(root, staging)
        staged = [replace(j, location=store.join(staging, j.name)) for j in jobs]
        infos = pack(staged) if pack is not None else [write_shard(j) for j in staged]
        if before_moves is not None:
            before_moves()
        for job in jobs:  # all packed: now the quick part, while readers may look
            store.move(store.join(staging, job.name), job.location)
        store.remove_empty_folder(staging)
        store.remove_empty_folder(root)
        return infos


def keep_shards(out_dir: str, infos: list[ShardInfo]) -> list[ShardInfo]:
    """Keep the shards ``infos`` already in ``<out_dir>/shards/`` as this run's (a rerun
    that would write them again: :mod:`pipelines.unchanged`), with the clean-up
    :meth:`ShardStage.write` does: what runs that stopped while packing left (shards past
    the last are the caller's, as there). Returns ``infos``."""
    remove_leftovers(out_dir)
    return infos


def remove_leftovers(out_dir: str) -> None:
    """Delete what runs that stopped while packing left under ``<out_dir>/work/shards-next/``."""
    root = store.join(out_dir, "work", STAGING)
    for leftover in store.listdir(root):
        store.remove_tree(store.join(root, leftover))
    store.remove_empty_folder(root)


def remove_stale(shard_dir: str, count: int) -> None:
    """Delete ``shard-NNNNNN.tar`` with NNNNNN >= ``count`` and leftover ``.part`` files
    (call once the index that names ``count`` shards is written)."""
    for fname in store.listdir(shard_dir):
        stale = fname.endswith(".part") or (
            fname.startswith("shard-") and fname.endswith(".tar") and int(fname[6:12]) >= count)
        if stale:
            store.remove(store.join(shard_dir, fname))
