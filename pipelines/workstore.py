"""The run's work area in the output store: per-source commits, the settings guard, the lease.

Layout under ``<output>/work/`` (a local folder or an object-store prefix, the same
keys either way; :mod:`curate.store`)::

    lease.json                 the live run's lease (pipelines/lease.py)
    settings.json              fingerprint of the settings that shape committed work
    sources/<id>.json          one per finished source: its clip records and reject rows
    clips/<clip_id>.mp4        encoded clips (+ .frames.npz frame samples), written by workers

A source is committed with one whole-object put of its JSON (atomic on S3/GCS; a
write-then-rename on a local folder) only after all of its clips went through the
per-clip stages; a source is done when its commit object exists, so a run killed at
any point restarts with exactly the unfinished sources. A second run on the same
output while the first lives is refused by the lease; a run whose per-source settings
differ from those that produced the committed work fails with
:class:`OutputInUseError` instead of mixing outputs.
"""

from __future__ import annotations

import hashlib
import json

from curate import store
from curate.extract import clip_path
from curate.ids import text_id
from pipelines.lease import DEFAULT_TTL_S, Lease, OutputInUseError
from schemas import ClipRecord, RejectRecord

__all__ = ["OutputInUseError", "WorkStore"]


class WorkStore:
    """Per-source commits for one output. Use as a context manager (takes the lease).

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

    def __enter__(self) -> "WorkStore":
        self.lease.acquire()
        try:
            self._check_settings()
            self._committed = set(store.listdir(self.sources_dir))  # one listing, not one request per source
        except BaseException:
            self.lease.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.lease.release()

    def _check_settings(self) -> None:
        path = store.join(self.root, "settings.json")
        try:
            old = json.loads(store.read_bytes(path))
        except FileNotFoundError:
            guard = {"fingerprint": self.fingerprint, "settings": self.settings}
            store.write_bytes(path, json.dumps(guard).encode())
            return
        if old.get("fingerprint") != self.fingerprint:
            changed = sorted(k for k in set(old.get("settings", {})) | set(self.settings)
                             if old.get("settings", {}).get(k) != self.settings.get(k))
            raise OutputInUseError(
                f"{self.output} holds work made with other settings (changed: {', '.join(changed)}); "
                "use a new --output folder")

    @staticmethod
    def _name(source_path: str) -> str:
        return f"{text_id(source_path)}.json"

    def _path(self, source_path: str) -> str:
        return store.join(self.sources_dir, self._name(source_path))

    def done(self, source_path: str) -> bool:
        """True when ``source_path`` was committed by this or an earlier run (its commit
        object was listed when the lease was taken, or this run wrote it)."""
        return self._name(source_path) in self._committed

    def commit(self, source_path: str, records: list[ClipRecord], rejects: list[RejectRecord],
               timings: dict[str, float], duration_s: float = 0.0) -> None:
        """Atomically record a finished source (``duration_s``: its video length, seconds)."""
        store.write_bytes(self._path(source_path), json.dumps({
            "path": source_path,
            "duration_s": duration_s,
            "records": [r.model_dump(mode="json") for r in sorted(records, key=lambda r: r.clip_id)],
            "rejects": [r.model_dump(mode="json") for r in rejects],
            "timings": timings,
        }).encode())
        self._committed.add(self._name(source_path))

    def load(self, source_paths: list[str]) -> tuple[list[ClipRecord], list[RejectRecord], dict[str, float], dict[str, float]]:
        """Records, reject rows, summed stage timings and source durations (s) of ``source_paths``."""
        records, rejects, timings, durations = [], [], {}, {}
        blobs = store.read_many([self._path(p) for p in source_paths])
        for path, blob in zip(source_paths, blobs):
            data = json.loads(blob)
            durations[path] = data.get("duration_s", 0.0)
            records += [ClipRecord.model_validate(r) for r in data["records"]]
            rejects += [RejectRecord.model_validate(r) for r in data["rejects"]]
            for k, v in data["timings"].items():
                timings[k] = timings.get(k, 0.0) + v
        return records, rejects, timings, durations

    def clip_file(self, clip_id: str) -> str:
        """Store location of a clip's encoded mp4."""
        return clip_path(self.root, clip_id)
