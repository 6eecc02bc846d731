"""Caption cache: one JSON file per clip and caption settings, under the run's work folder.

Layout: ``<work_dir>/captions/<settings key>/<clip_id>.json`` with
``<work_dir>/captions/<settings key>/settings.json`` naming the settings. The key is a
hash of everything that changes what the model writes (model, dtype, prompt version,
generation settings, windows, image size); batch size, device and which variant goes
into ``<key>.txt`` are left out. The work folder is in the output store
(:mod:`curate.store`: a local folder or an object-store prefix); an entry is one atomic
put, so a run killed mid-write leaves no half entry, and a re-run (after a crash, or with new
filters that keep some of the same clips) generates nothing for a cached clip.

Only what the model produced is cached (:class:`CachedCaption`); the signal description
is joined in when the record's caption is built, so changing signal thresholds never
serves stale hints.
"""

from __future__ import annotations

import hashlib
import json
import logging

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from curate import store
from schemas import CaptionEvent

log = logging.getLogger(__name__)


class CachedCaption(BaseModel):
    """The model's result for one clip: the captions, or the degenerate kinds that made it fall back.

    ``generation``: JSON of the settings of the accepted attempt (or the last one tried).
    ``new_tokens``: tokens generated over all windows and attempts. ``attempts``: 1 or 2.
    """

    model_config = ConfigDict(extra="forbid")
    short: str | None = None
    long: str | None = None
    events: list[CaptionEvent] = Field(default_factory=list)
    degenerate: list[str] = Field(default_factory=list)
    generation: str
    new_tokens: int = 0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """True when the model gave usable captions."""
        return self.long is not None and not self.degenerate


def settings_key(settings: dict) -> str:
    """16 hex characters of the SHA-256 of ``settings`` as sorted JSON."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


class CaptionCache:
    """Get and put :class:`CachedCaption` by clip id for one set of caption settings."""

    def __init__(self, work_dir: str, settings: dict):
        self.settings = settings
        self._named = False
        self.dir = store.join(work_dir, "captions", settings_key(settings))

    def path(self, clip_id: str) -> str:
        """Where the entry of ``clip_id`` lives (a store location)."""
        return store.join(self.dir, f"{clip_id}.json")

    def get(self, clip_id: str) -> CachedCaption | None:
        """The cached entry, or None. An unreadable entry is logged and treated as missing."""
        path = self.path(clip_id)
        try:
            data = store.read_bytes(path)
        except FileNotFoundError:
            return None
        try:
            return CachedCaption.model_validate_json(data.decode("utf-8"))
        except ValidationError as exc:
            log.warning("ignoring unreadable caption cache entry %s: %s", path, exc.errors()[0]["msg"])
        except UnicodeDecodeError as exc:  # bytes that are no UTF-8 (had rejected the clip as stage_error)
            log.warning("ignoring unreadable caption cache entry %s: %s", path, exc)
        return None

    def put(self, clip_id: str, entry: CachedCaption) -> None:
        """Store ``entry`` for ``clip_id`` (atomic put; writes the folder's settings.json first)."""
        settings = store.join(self.dir, "settings.json")
        if not self._named and not store.exists(settings):
            store.write_bytes(settings, json.dumps(self.settings, sort_keys=True, indent=1).encode())
        self._named = True
        store.write_bytes(self.path(clip_id), entry.model_dump_json().encode())
