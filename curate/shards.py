"""Shard writing: WebDataset tars of ``<key>.mp4``, ``<key>.json`` and ``<key>.txt``.

Samples are written in clip-id order with webdataset's ``TarWriter`` (fixed mtime,
user and mode, so the same clips give byte-identical shards whatever the run's
parallelism). A shard closes once adding the next sample would pass ``target_mb``; it
is written as ``shard-NNNNNN.tar.part`` and renamed to ``shard-NNNNNN.tar`` only when
complete, so readers never see half a shard.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import webdataset as wds
from pydantic import Field

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
    ``"a-b s: text"`` per event, ``"; "``-joined) or ``signals``; ``text`` (or a variant
    the caption lacks, e.g. after a degenerate model answer) gives ``caption.text``.
    """
    cap = rec.caption
    if cap is None:
        return ""
    if variant == "events" and cap.events:
        return "; ".join(f"{e.start_s:.1f}-{e.end_s:.1f} s: {e.text}" for e in cap.events)
    chosen = {"short": cap.short, "long": cap.long, "signals": cap.signals}.get(variant)
    return chosen or cap.text


class ShardStage(Stage):
    """Pack kept clips into shards under ``<output>/shards/``.

    Config: ``target_mb`` (shard size target, MB; a single larger sample still gets
    its own shard). Runs on the driver after captioning.
    """

    name = "shards"
    stage: Literal["shards"] = "shards"
    target_mb: float = Field(256.0, gt=0)

    def write(self, records: list[ClipRecord], clip_file: Callable[[str], str], out_dir: str,
              text: Callable[[ClipRecord], str] = caption_text) -> list[ShardInfo]:
        """Write shards for ``records`` (sorted by clip id) and return their infos.

        ``clip_file(clip_id)`` gives the path of a clip's mp4. Sets ``record.shard``
        on each record. Removes stale shards from an earlier run with more shards.
        Raises FileNotFoundError when a clip file is missing.
        """
        shard_dir = os.path.join(out_dir, "shards")
        os.makedirs(shard_dir, exist_ok=True)
        limit = self.target_mb * 1e6
        infos: list[ShardInfo] = []
        batch: list[tuple[ClipRecord, bytes]] = []
        size = 0
        for rec in sorted(records, key=lambda r: r.clip_id):
            with open(clip_file(rec.clip_id), "rb") as f:
                mp4 = f.read()
            if batch and size + len(mp4) > limit:
                infos.append(self._write_one(shard_dir, len(infos), batch, text))
                batch, size = [], 0
            batch.append((rec, mp4))
            size += len(mp4)
        if batch:
            infos.append(self._write_one(shard_dir, len(infos), batch, text))
        _remove_stale(shard_dir, len(infos))
        return infos

    def _write_one(self, shard_dir: str, index: int, batch, text) -> ShardInfo:
        name = SHARD_PATTERN.format(index)
        final = os.path.join(shard_dir, name)
        tmp = final + ".part"
        with open(tmp, "wb") as f, wds.TarWriter(f, user="vidcurate", group="vidcurate",
                                                 mode=0o644, encoder=False, mtime=0) as tar:
            for rec, mp4 in batch:
                rec.shard = name
                tar.write({"__key__": rec.clip_id, "mp4": mp4,
                           "json": rec.model_dump_json().encode(), "txt": text(rec).encode()})
        os.replace(tmp, final)
        return ShardInfo(name=name, samples=len(batch), bytes=os.path.getsize(final),
                         sha256=sha256_file(final))


def _remove_stale(shard_dir: str, count: int) -> None:
    for fname in os.listdir(shard_dir):
        if fname.endswith(".part"):
            os.remove(os.path.join(shard_dir, fname))
            continue
        if fname.startswith("shard-") and fname.endswith(".tar"):
            index = int(fname[6:12])
            if index >= count:
                os.remove(os.path.join(shard_dir, fname))
