"""A rerun that would write the very shards its output already holds keeps them.

Without this, the same command run again on a finished output (a cron job over a folder
where nothing new arrived) copied every kept clip back out of the shards
(:meth:`pipelines.workclips.WorkClips.restore`) and packed every shard again, byte for
byte the same: work in proportion to the whole dataset for no change (a new user's
walk-through). A shard's bytes follow from its samples: each clip's mp4 (named by its
content-addressed clip id), its record's ``.json`` and its caption text
(:meth:`curate.shards.ShardWriter.jobs`). So when the records this run would write
(``index.parquet``, shard names included) equal the earlier run's row for row, and the
pipeline that turns them into samples is the same, the shards on disk are the ones this
run would make, and their earlier infos stand. Anything else, including a missing or
resized shard file, goes the usual way.

A run that writes shards marks the output (:data:`PACKING`, :func:`packing`) before it
packs and clears the mark once its manifest is written (:func:`packed`): a run stopped
in between (a kill in the window of the shard moves and the index's put) had left shards
of other captions beside the earlier index and manifest, the same size by the tar's
10 KiB blocks, and a later run kept them (a break test). A marked output is never kept
as it is. What is not checked: a shard changed in place at its own size by something
else than a run (its bytes are not hashed: that reads the whole dataset).
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from curate import store
from curate.shards import ShardInfo, plan_shards
from pipelines.report import versions
from schemas import SCHEMA_VERSION, ClipRecord
from schemas.arrow import to_table


PACKING = "packing"  # under <output>/work/: a run writes shards; gone once its manifest is


def packing(work_dir: str) -> None:
    """Mark the output whose work folder is ``work_dir``: shards are being written."""
    store.write_bytes(store.join(work_dir, PACKING), b"")


def packed(work_dir: str) -> None:
    """Clear :func:`packing`'s mark: the shards, index and manifest agree."""
    store.remove(store.join(work_dir, PACKING))


def earlier_manifest(output: str, pipeline: dict) -> dict | None:
    """The output's ``manifest.json`` when it was written by this ``pipeline``
    (``Pipeline.model_dump(mode="json")``), schema version and vidcurate version, and no
    run stopped while writing shards since (:func:`packing`); None when absent,
    unreadable, another's or marked."""
    if store.exists(store.join(output, "work", PACKING)):
        return None
    try:
        manifest = json.loads(store.read_bytes(store.join(output, "manifest.json")))
    except (OSError, ValueError):
        return None
    same = (manifest.get("pipeline") == json.loads(json.dumps(pipeline))
            and manifest.get("schema_version") == SCHEMA_VERSION  # samples laid out as this code does
            and manifest.get("versions", {}).get("vidcurate") == versions()["vidcurate"])
    return manifest if same and isinstance(manifest.get("shards"), list) else None


def kept_shards(output: str, manifest: dict, kept: list[ClipRecord], target_mb: float) -> list[ShardInfo] | None:
    """The earlier run's shard infos (from ``manifest``, :func:`earlier_manifest`) when the
    records ``kept`` (after dedup and the post stages; their ``shard`` is set here, by
    :func:`curate.shards.plan_shards` at ``target_mb``) would be written as they are in
    ``index.parquet`` and every shard file is there at its recorded size; else None."""
    groups = plan_shards(kept, target_mb)
    try:
        infos = [ShardInfo(**s) for s in manifest["shards"]]
    except TypeError:  # another manifest layout
        return None
    if [(i.name, i.samples) for i in infos] != [(g[0].shard, len(g)) for g in groups]:
        return None
    fs, path = store.filesystem(store.join(output, "index.parquet"))
    try:
        with fs.open(path, "rb") as f:
            earlier = pq.read_table(f)
    except (OSError, ValueError):
        return None
    if not earlier.equals(to_table(ClipRecord, sorted(kept, key=lambda r: r.clip_id))):
        return None
    for info in infos:
        fs, path = store.filesystem(store.join(output, "shards", info.name))
        try:
            if fs.size(path) != info.bytes:
                return None
        except OSError:
            return None
    return infos
