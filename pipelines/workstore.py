"""The run's work area in the output store: per-source commits, the settings guard, the lease.

Layout under ``<output>/work/`` (a local folder or an object-store prefix, the same
keys either way; :mod:`curate.store`)::

    lease.json                 the live run's lease (pipelines/lease.py)
    settings.json              fingerprint of the settings that shape committed work
    sources/<id>.json          one per finished source: its clip records and reject rows
    sources/<id>.retry.json    the same for a source with a stage_error or not_found row:
                               kept for this run's outputs, redone by the next run
    clips/<clip_id>.mp4        encoded clips (+ .frames.npz frame samples), written by workers
    captions/<key>/<clip_id>.json   the vlm_caption cache (curate/captioning/cache.py)
    shards-next/shard-NNNNNN.tar    shards being packed (curate/shards.py), moved into shards/

A source is committed with one whole-object put of its JSON (atomic on S3/GCS; a
write-then-rename on a local folder) only after all of its clips went through the
per-clip stages; a source is done when its commit object exists, so a run killed at
any point restarts with exactly the unfinished sources. A source with a ``stage_error``
row (an unexpected exception, often the node's: no store credentials on a worker, a
missing library), or a ``not_found`` row (a listed file not made yet, a node that cannot
see a local source) is committed as ``<id>.retry.json``: this run's outputs list its rows,
and the same command run again (the environment fixed) redoes it instead of keeping the
error for ever. A second run on the same
output while the first lives is refused by the lease; a run whose per-source settings
differ from those that produced the committed work fails with
:class:`OutputInUseError` instead of mixing outputs.

Cleaning and restoring ``clips/`` (``keep_work: false``): :mod:`pipelines.workclips`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from curate import store
from curate.ids import source_key, text_id
from curate.tasks import file_stamp, stamp_changed
from pipelines.lease import DEFAULT_TTL_S, Lease, OutputInUseError
from pipelines.workclips import WorkClips
from schemas import ClipRecord, RejectRecord

__all__ = ["OutputInUseError", "WorkStore"]

RETRY_REASONS = frozenset({"stage_error", "not_found", "no_space", "source_changed"})
"""A source with a reject row of one of these reasons is redone by the next run (module
docstring): an error of the node or the environment, a file that was not there (a
listed file made later, a node that could not see it: found by a break test, where such
sources stayed ``not_found`` for good), or one that changed while it was read (a file
still being copied)."""

def _commit_data(blob: bytes) -> dict | None:
    """A commit's JSON object when it has the shape of one (``records`` and ``rejects``
    lists of objects, ``timings`` an object), else None: emptied, cut short, or not a commit."""
    try:
        data = json.loads(blob)
    except ValueError:
        return None
    if not (isinstance(data, dict) and isinstance(data.get("timings"), dict)
            and all(isinstance(data.get(k), list) and all(isinstance(x, dict) for x in data[k])
                    for k in ("records", "rejects"))):
        return None
    return data


class WorkStore(WorkClips):
    """Per-source commits for one output. Use as a context manager (takes the lease);
    its ``clips/`` area: :class:`pipelines.workclips.WorkClips`.

    ``output``: a local path or fsspec URL (:func:`curate.store.resolve`);
    ``settings``: ``{stage name: settings}`` of the per-source stages.
    """

    def __init__(self, output: str, settings: dict, lease_ttl_s: float = DEFAULT_TTL_S):
        self.output = store.resolve(output)
        self.root = store.join(self.output, "work")
        self.sources_dir = store.join(self.root, "sources")
        self.settings = settings
        self.fingerprint = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self.lease = Lease(store.join(self.root, "lease.json"), ttl_s=lease_ttl_s)
        self._committed: set[str] = set()
        self._blobs: dict[str, bytes] = {}  # local sources' commits read at the start, by name, for load()
        self._made_settings = False  # this run wrote settings.json (the folder had no work)
        self._new_folder = False  # a local output folder this run made

    def __enter__(self) -> "WorkStore":
        fs, path = store.filesystem(self.output)
        self._new_folder = store.is_local(fs) and not fs.exists(path)  # this run makes the folder
        self.lease.acquire()
        try:
            self._committed = set(store.listdir(self.sources_dir))  # one listing, not one request per source
            self._check_settings()
        except BaseException:
            self.lease.release()
            raise
        return self

    def __exit__(self, exc_type, *exc) -> None:
        """Release the lease; a run that fails before committing any source into a folder
        that held no work (exit 6 or 7: no cluster, no node for a stage) removes the
        settings guard it wrote, so another pipeline can use the folder (exit 3 otherwise),
        and the local output folder it made, left empty (found by a walk-through)."""
        unused = exc_type is not None and self._made_settings and not self._committed
        try:
            if unused:
                store.remove(store.join(self.root, "settings.json"))
        except OSError:  # the store is gone or refuses: the guard stays, as before
            pass
        finally:
            self.lease.release()
        if unused and self._new_folder:
            for folder in (self.sources_dir, self.root, self.output):  # only if empty: rmdir
                try:
                    os.rmdir(folder)
                except OSError:
                    pass

    def _check_settings(self) -> None:
        """Write the settings guard, or refuse work made with other settings. A guard that is
        gone or damaged (cut short, emptied) beside committed work is refused too: the
        settings that made that work are unknown (a break test: a run without the file took
        other settings, kept the old clips and wrote the new settings into the manifest)."""
        path = store.join(self.root, "settings.json")
        try:
            old = json.loads(store.read_bytes(path))
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
        except (FileNotFoundError, ValueError) as exc:
            commits = [n for n in self._committed if n.endswith(".json")]  # not a write's leftover .part
            if commits:
                what = "is missing" if isinstance(exc, FileNotFoundError) else "is damaged"
                raise OutputInUseError(
                    f"{path} {what}, so the settings that made the {len(commits)} sources committed "
                    f"in {self.sources_dir} are unknown; use a new --output folder, or delete {self.root} "
                    "to curate every source again") from None
            guard = {"fingerprint": self.fingerprint, "settings": self.settings}
            store.write_bytes(path, json.dumps(guard).encode())
            self._made_settings = True
            return
        if old.get("fingerprint") != self.fingerprint:
            changed = sorted(k for k in set(old.get("settings", {})) | set(self.settings)
                             if old.get("settings", {}).get(k) != self.settings.get(k))
            raise OutputInUseError(
                f"{self.output} holds work made with other settings (changed: {', '.join(changed)}); "
                "use a new --output folder")

    @staticmethod
    def _name(source_path: str, retry: bool = False) -> str:
        return f"{text_id(source_key(source_path))}{'.retry' if retry else ''}.json"

    def _path(self, source_path: str, retry: bool = False) -> str:
        return store.join(self.sources_dir, self._name(source_path, retry))

    def done(self, source_path: str) -> bool:
        """True when ``source_path`` was committed by this or an earlier run (its commit
        object was listed when the lease was taken, or this run wrote it), without a
        ``stage_error`` or ``not_found`` row (module docstring)."""
        return self._name(source_path) in self._committed

    def commit(self, source_path: str, records: list[ClipRecord], rejects: list[RejectRecord],
               timings: dict[str, float], duration_s: float = 0.0,
               stamp: tuple[int, int, str] | None = None) -> None:
        """Atomically record a finished source (``duration_s``: its video length, seconds;
        ``stamp``: the local file's size, mtime and host before it was read,
        :func:`curate.tasks.file_stamp`, for :meth:`changed`); one with a row of
        :data:`RETRY_REASONS` is recorded to be redone by the next run."""
        retry = any(r.reason in RETRY_REASONS for r in rejects)
        self._blobs.pop(self._name(source_path), None)
        size, mtime_ns, host = stamp if stamp is not None else (None, None, None)
        store.write_bytes(self._path(source_path, retry), json.dumps({
            "path": source_path,
            "duration_s": duration_s,
            "size_bytes": size,
            "mtime_ns": mtime_ns,
            "host": host,
            "records": [r.model_dump(mode="json") for r in sorted(records, key=lambda r: r.clip_id)],
            "rejects": [r.model_dump(mode="json") for r in rejects],
            "timings": timings,
        }).encode())
        self._committed.add(self._name(source_path, retry))
        stale = self._name(source_path, not retry)
        if stale in self._committed:  # an earlier run's commit of the other kind
            store.remove(self._path(source_path, not retry))
            self._committed.discard(stale)

    def changed(self, source_paths: list[str]) -> dict[str, tuple[tuple, tuple]]:
        """``{path: (stamp when curated, stamp now)}`` (:func:`curate.tasks.file_stamp`:
        size in bytes, mtime in ns, host) for the local files of ``source_paths`` committed
        as done that changed since their probe (:func:`curate.tasks.stamp_changed`): a file caught while it was still being copied
        was curated short, and a rerun kept that result for ever (a break test), as it kept
        the clips of a file replaced by another. Their commits are read once here (and kept
        for :meth:`load`); a file this machine cannot see (a node's own disk), an
        object-store URL (written whole) or a commit without a stamp (older runs) counts as
        unchanged."""
        stamps = {}
        for path in source_paths:
            if self.done(path) and (now := file_stamp(path)) is not None:
                stamps[path] = now
        paths = list(stamps)
        unread = [p for p in paths if self._name(p) not in self._blobs]  # drop_damaged read the rest
        for path, blob in zip(unread, store.read_many([self._path(p) for p in unread])):
            self._blobs[self._name(path)] = blob
        out = {}
        for path in paths:
            try:
                data = json.loads(self._blobs[self._name(path)])
            except ValueError:  # damaged: load() says so
                continue
            before = data.get("size_bytes"), data.get("mtime_ns"), data.get("host")
            if isinstance(before[0], int) and stamp_changed(before, stamps[path]):
                out[path] = (before, stamps[path])
        return out

    def drop_damaged(self, source_paths: list[str]) -> list[str]:
        """Commits of ``source_paths`` done here that cannot be read (cut short, emptied, not a
        commit): each is removed, so its source is curated again, and its location returned
        for a warning (a break test: one emptied commit stopped every later run with an
        internal error that named no file). Each is parsed here once more than before (about
        0.2 ms a commit). Those of local source files are kept for :meth:`changed`, which
        reads them anyway, and :meth:`load`; the others are not: a large output's commits of
        remote sources are not held in memory for the whole run. A commit of the right shape
        whose records do not validate is found by :meth:`load`."""
        paths = [p for p in source_paths if self.done(p)]
        damaged = []
        for path, blob in zip(paths, store.read_many([self._path(p) for p in paths])):
            if _commit_data(blob) is None:
                damaged.append(self._forget(path))
            elif not store.is_url(path):
                self._blobs[self._name(path)] = blob
        return damaged

    def _forget(self, source_path: str, retry: bool = False) -> str:
        """Remove the commit of ``source_path`` (its source is curated again); returns its location."""
        location = self._path(source_path, retry)
        store.remove(location)
        self._committed.discard(self._name(source_path, retry))
        self._blobs.pop(self._name(source_path), None)
        return location

    def earlier_sources(self, source_paths: list[str]) -> list[str]:
        """Paths of the sources committed here (by earlier runs) that are not in
        ``source_paths``, in commit-name order: their clips stay in the output when a run
        names fewer inputs (found by a break test: a rerun on a subset emptied the index and
        shards of the rest, which ``work/clips`` no longer held)."""
        mine = {self._name(p, retry) for p in source_paths for retry in (False, True)}
        # finished ones only: a .retry commit (stage_error, not_found) of a source not named
        # again had counted towards exit 5 on every later run, never redone (break test)
        names = sorted(n for n in self._committed if n not in mine and not n.endswith(".retry.json"))
        out = []
        for name, blob in zip(names, store.read_many([store.join(self.sources_dir, n) for n in names])):
            data = _commit_data(blob)
            if data is None or not isinstance(data.get("path"), str):  # damaged: not kept, the run goes on
                print(f"warning: {store.join(self.sources_dir, name)} is damaged (cut short or not a commit): "
                      "its source's clips are left out", file=sys.stderr)
                continue
            out.append(data["path"])
        return out

    def load(self, source_paths: list[str]) -> tuple[list[ClipRecord], list[RejectRecord], dict[str, float], dict[str, float]]:
        """Records, reject rows, summed stage timings and source durations (s) of
        ``source_paths``. A source committed under another address of the same name (a
        presigned URL signed again: :func:`curate.ids.source_key`) gets the address given
        now in its records and rows: the earlier one may have expired, and a clip encoded
        again from its source span reads this one."""
        records, rejects, timings, durations = [], [], {}, {}
        unread = [p for p in source_paths if self._name(p) not in self._blobs]
        got = dict(zip(unread, store.read_many([self._path(p, retry=self._name(p) not in self._committed)
                                                for p in unread])))
        blobs = [got[p] if p in got else self._blobs[self._name(p)] for p in source_paths]
        for path, blob in zip(source_paths, blobs):
            data = _commit_data(blob)
            try:
                recs = [ClipRecord.model_validate(r) for r in data["records"]]
                rows = [RejectRecord.model_validate(r) for r in data["rejects"]]
                stage_s = {str(k): float(v) for k, v in data["timings"].items()}
            except (TypeError, ValueError):  # no commit, or records that do not validate
                where = self._forget(path, retry=self._name(path) not in self._committed)
                print(f"warning: {where} does not hold valid records: its source is left out of this "
                      "run's outputs, and the next run curates it again", file=sys.stderr)
                continue
            durations[path] = data.get("duration_s", 0.0)
            if data.get("path", path) != path:
                for rec in recs:
                    rec.source.path = path
                rows = [r.model_copy(update={"source_path": path}) for r in rows]
            records += recs
            rejects += rows
            for k, v in stage_s.items():
                timings[k] = timings.get(k, 0.0) + v
        return records, rejects, timings, durations
