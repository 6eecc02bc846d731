"""The run's ``<output>/work/clips`` area: cleaning it once the shards are written, and
restoring what a later run needs (the layout of ``work/``: :mod:`pipelines.workstore`).

Cleaning (``keep_work: false``, the default; pipelines/config.py): ``clips/`` is a second
copy of every clip plus frame samples (10.5 MB beside 5.1 MB of shards on the footage
run, README), needed only until the shards are packed. Once shards, ``index.parquet``, the
manifest and ``report.html`` are written, :meth:`WorkClips.drop_clips` deletes
``clips/``; commits, settings and the caption cache stay (small), so the same command
still resumes. A run stopped earlier deletes nothing. A later run on the output
(repeated, or with inputs added) needs the clips of every kept clip again to repack
the shards, and ``vlm_caption`` needs the frame samples of clips its cache lacks:
:meth:`WorkClips.restore` copies each missing clip back out of the shard that holds it
(``index.parquet`` names it; the ``<key>.mp4`` member is the clip's bytes unchanged)
before any shard is rewritten, and encodes with the extract stage again, from the
source span, a clip that is in no shard (e.g. one dedup dropped last time) or whose
frame sample is needed. Restoring into ``clips/`` first, rather than packing straight
from the old tars, means packing never reads a shard that a new shard of the same name
is replacing; the price is one extra write and read of each old clip per resumed run
(3.3 s for the footage run's 42 clips), small beside repacking every shard, which a
resumed run does anyway, unless it would write the output's own records and shards
(:mod:`pipelines.unchanged`: then neither). Invariant: a clip the last finished run kept and that is
missing from ``clips/`` is in the shard ``index.parquet`` names, since ``clips/`` is
only cleaned after that index is written.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow.parquet as pq

from curate import store
from curate.captioning.cache import CaptionCache
from curate.extract import clip_path
from curate.shards import unpack_clips
from curate.stage import Stage
from curate.tasks import ClipTask
from schemas import ClipRecord, RejectRecord

#: ``run(fn, calls)``: ``[fn(*args) for args in calls]``, in order (e.g. one Ray task each)
MapFn = Callable[[Callable, list[tuple]], list]


def _serial(fn: Callable, calls: list[tuple]) -> list:
    return [fn(*args) for args in calls]


def extract_again(extract: Stage, rec: ClipRecord, work_dir: str) -> RejectRecord | None:
    """Encode ``rec``'s clip again from its source span with the run's ``extract`` stage
    (run on a worker): its mp4 and frame sample land in ``<work_dir>/clips`` as in the
    first run. The clip id holds the encoder settings and the settings guard holds the
    rest, so the bytes are those of the first run. Returns the extract stage's reject
    row (e.g. the source is gone) with a detail saying why the clip was needed, else None."""
    task = ClipTask(source=rec.source, span=rec.span, clip_id=rec.clip_id, work_dir=work_dir,
                    source_path=rec.source.path)
    row = extract(task).reject_row
    if row is None:
        return None
    return row.model_copy(update={"detail": "work/clips was cleaned and the clip is in no shard; "
                                            f"extracting it again failed: {row.detail}"})


def frames_needed(post_stages: list[Stage], work_dir: str, records: list[ClipRecord]) -> set[str]:
    """Clip ids of ``records`` whose frame sample (``clips/<id>.frames.npz``) a stage after
    dedup will read: ``vlm_caption`` reads it for clips its caption cache lacks (all of
    them with ``cache: false``). The other post stages (``caption`` signals,
    ``clip_score``) read records only; dedup reads the records' signatures."""
    ids: set[str] = set()
    for stage in post_stages:
        if stage.name != "vlm_caption":
            continue
        cached = set()
        if getattr(stage, "cache", False):
            folder = CaptionCache(work_dir, stage.cache_settings()).dir
            cached = {n[:-len(".json")] for n in store.listdir(folder) if n.endswith(".json")}
        ids |= {r.clip_id for r in records if r.clip_id not in cached}
    return ids


class WorkClips:
    """The ``clips/`` area of a :class:`pipelines.workstore.WorkStore` (which sets ``root``,
    ``<output>/work``, and ``output``)."""

    root: str
    output: str

    def clip_file(self, clip_id: str) -> str:
        """Store location of a clip's encoded mp4."""
        return clip_path(self.root, clip_id)

    @property
    def clips_dir(self) -> str:
        """``<output>/work/clips``: clip mp4s and frame samples."""
        return store.join(self.root, "clips")

    def missing(self, records: list[ClipRecord], need_frames: set[str]) -> tuple[set[str], set[str]]:
        """``(ids without an mp4, ids of need_frames without a frame sample)`` in ``clips/``
        (one listing): what :meth:`restore` has to bring back. An mp4 whose size is not the
        record's ``clip.size_bytes`` counts as missing (a break test: a clip cut short under
        ``work/clips`` went into the shards of a run that exited 0)."""
        present = store.sizes(self.clips_dir)
        no_mp4 = {r.clip_id for r in records if present.get(f"{r.clip_id}.mp4") is None
                  or 0 < r.clip.size_bytes != present[f"{r.clip_id}.mp4"]}
        return no_mp4, {i for i in need_frames if f"{i}.frames.npz" not in present}

    def shard_of(self) -> dict[str, str]:
        """``{clip_id: shard file name}`` from the output's ``index.parquet`` (the last run
        that finished); {} when there is none or it cannot be read."""
        fs, path = store.filesystem(store.join(self.output, "index.parquet"))
        try:
            with fs.open(path, "rb") as f:
                table = pq.read_table(f, columns=["clip_id", "shard"]).to_pydict()
        except (OSError, ValueError):  # absent, or not a parquet file with those columns
            return {}
        return {c: s for c, s in zip(table["clip_id"], table["shard"]) if s}

    def restore(self, records: list[ClipRecord], need_frames: set[str], extract: Stage,
                run: MapFn = _serial) -> list[RejectRecord]:
        """Bring back the ``clips/`` files of ``records`` that a cleaned run removed
        (module docstring): mp4s from the shards that hold them (:func:`unpack_clips`,
        one call per shard), then :func:`extract_again` for clips in no shard, cut short
        there, or in ``need_frames`` without a frame sample. ``run`` maps a function over
        argument tuples (default: here, in order). Returns reject rows of clips that
        could not be brought back (their sources are gone); no error is raised."""
        no_mp4, no_frames = self.missing(records, need_frames)
        redo = set(no_frames)
        shard_of, sizes = self.shard_of(), {r.clip_id: r.clip.size_bytes for r in records}
        wanted: dict[str, dict[str, int]] = {}
        for cid in sorted(no_mp4 - redo):
            if cid in shard_of:
                wanted.setdefault(shard_of[cid], {})[cid] = sizes[cid]
            else:
                redo.add(cid)
        calls = [(store.join(self.output, "shards", name), ids, self.clips_dir) for name, ids in sorted(wanted.items())]
        for (_, ids, _), got in zip(calls, run(unpack_clips, calls)):
            redo |= set(ids) - set(got)
        rows = run(extract_again, [(extract, r, self.root) for r in records if r.clip_id in redo])
        return [row for row in rows if row is not None]

    def drop_clips(self) -> tuple[int, int]:
        """Delete ``clips/`` (every clip mp4 and frame sample; call only once the shards,
        index and report are written). Returns ``(objects, bytes)`` deleted."""
        fs, path = store.filesystem(self.clips_dir)
        try:
            found = fs.find(path, detail=True)
        except FileNotFoundError:
            found = {}
        if found:
            store.remove_tree(self.clips_dir)  # on S3: batched deletes of the listed keys
        return len(found), sum(int(info.get("size") or 0) for info in found.values())
