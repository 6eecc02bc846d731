"""The run's work folder: per-source commits, the settings guard and the run lock.

Layout under ``<output>/work/``::

    settings.json              fingerprint of the settings that shape committed work
    sources/<id>.json          one per finished source: its clip records and reject rows
    clips/<clip_id>.mp4        encoded clips (+ .frames.npz frame samples)

A source is committed (its JSON written under a temporary name, then renamed) only
after all of its clips went through the per-clip stages, so a run killed at any point
restarts with exactly the unfinished sources. A second run on the same folder at the
same time fails on the lock (``<output>/.lock``, ``fcntl.flock``); a run whose
per-source settings differ from those that produced the committed work fails with
:class:`OutputInUseError` instead of mixing outputs.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os

from curate.ids import text_id
from schemas import ClipRecord, RejectRecord


class OutputInUseError(RuntimeError):
    """The output folder is locked by another run or holds work made with other settings."""


class WorkStore:
    """Per-source commits for one output folder. Use as a context manager (takes the lock)."""

    def __init__(self, output: str, settings: dict):
        self.output = os.path.abspath(output)
        self.root = os.path.join(self.output, "work")
        self.sources_dir = os.path.join(self.root, "sources")
        self.settings = settings
        self.fingerprint = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self._lock = None

    def __enter__(self) -> "WorkStore":
        os.makedirs(self.sources_dir, exist_ok=True)
        os.makedirs(os.path.join(self.root, "clips"), exist_ok=True)
        self._lock = open(os.path.join(self.output, ".lock"), "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise OutputInUseError(f"{self.output} is in use by another vidcurate run") from None
        self._check_settings()
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()

    def _check_settings(self) -> None:
        path = os.path.join(self.root, "settings.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                old = json.load(f)
            if old.get("fingerprint") != self.fingerprint:
                changed = sorted(k for k in set(old.get("settings", {})) | set(self.settings)
                                 if old.get("settings", {}).get(k) != self.settings.get(k))
                raise OutputInUseError(
                    f"{self.output} holds work made with other settings (changed: {', '.join(changed)}); "
                    "use a new --output folder")
            return
        _write_json(path, {"fingerprint": self.fingerprint, "settings": self.settings})

    def _path(self, source_path: str) -> str:
        return os.path.join(self.sources_dir, f"{text_id(source_path)}.json")

    def done(self, source_path: str) -> bool:
        """True when ``source_path`` was committed by this or an earlier run."""
        return os.path.exists(self._path(source_path))

    def commit(self, source_path: str, records: list[ClipRecord], rejects: list[RejectRecord],
               timings: dict[str, float], duration_s: float = 0.0) -> None:
        """Atomically record a finished source (``duration_s``: its video length, seconds)."""
        _write_json(self._path(source_path), {
            "path": source_path,
            "duration_s": duration_s,
            "records": [r.model_dump(mode="json") for r in sorted(records, key=lambda r: r.clip_id)],
            "rejects": [r.model_dump(mode="json") for r in rejects],
            "timings": timings,
        })

    def load(self, source_paths: list[str]) -> tuple[list[ClipRecord], list[RejectRecord], dict[str, float], dict[str, float]]:
        """Records, reject rows, summed stage timings and source durations (s) of ``source_paths``."""
        records, rejects, timings, durations = [], [], {}, {}
        for path in source_paths:
            with open(self._path(path), encoding="utf-8") as f:
                data = json.load(f)
            durations[path] = data.get("duration_s", 0.0)
            records += [ClipRecord.model_validate(r) for r in data["records"]]
            rejects += [RejectRecord.model_validate(r) for r in data["rejects"]]
            for k, v in data["timings"].items():
                timings[k] = timings.get(k, 0.0) + v
        return records, rejects, timings, durations

    def clip_file(self, clip_id: str) -> str:
        """Path of a clip's encoded mp4."""
        return os.path.join(self.root, "clips", f"{clip_id}.mp4")


def _write_json(path: str, data: dict) -> None:
    tmp = f"{path}.part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
