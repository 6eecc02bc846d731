"""Caption cache: one JSON file per clip and caption settings, under the run's work folder.

Layout: ``<work_dir>/captions/<settings key>/<clip_id>.json`` with
``<work_dir>/captions/<settings key>/settings.json`` naming the settings. The key is a
hash of everything that changes what the model writes (model and :func:`model_fingerprint`
of its files, dtype, prompt version, generation settings, windows, image size, and the
thresholds the signal hints of the prompt are labelled with, and the extract stage's frame
sample the images come from); batch size, device and which
variant goes into ``<key>.txt`` are left out. Each entry also holds ``inputs``, a hash of
the clip's own prompt inputs (its hints and duration); an entry whose ``inputs`` differ
from the clip's now (new motion measurements, say) is a miss. The work folder is in the output store
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
import os

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from curate import store
from schemas import CaptionEvent

log = logging.getLogger(__name__)


class CachedCaption(BaseModel):
    """The model's result for one clip: the captions, or the degenerate kinds that made it fall back.

    ``generation``: JSON of the settings of the accepted attempt (or the last one tried).
    ``new_tokens``: tokens generated over all windows and attempts. ``attempts``: 1 or 2.
    ``inputs``: hash of the clip's prompt inputs the entry was made from (empty in entries
    written before it existed: those are misses).
    """

    model_config = ConfigDict(extra="forbid")
    short: str | None = None
    long: str | None = None
    events: list[CaptionEvent] = Field(default_factory=list)
    degenerate: list[str] = Field(default_factory=list)
    generation: str
    new_tokens: int = 0
    attempts: int = 1
    inputs: str = ""

    @property
    def ok(self) -> bool:
        """True when the model gave usable captions."""
        return self.long is not None and not self.degenerate


def settings_key(settings: dict) -> str:
    """16 hex characters of the SHA-256 of ``settings`` as sorted JSON."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def model_fingerprint(model: str) -> str:
    """What identifies the weights ``model`` names, so new weights under the same name miss.

    A local folder: ``folder:`` and 16 hex characters of a hash of the name, size and
    modification time (ns) of each file directly in it (hidden files left out), so weights,
    config or tokenizer saved again into the folder change it (copy a folder to other nodes
    with its times kept, ``cp -p`` or ``rsync -a``, for them to share the cache). A hub id:
    ``hub:`` and the commit of its snapshot in the local Hugging Face cache, or
    ``hub:unresolved`` when it is not cached here.
    """
    folder = os.path.expanduser(model)
    if os.path.isdir(folder):
        h = hashlib.sha256()
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if not entry.name.startswith(".") and entry.is_file():
                st = entry.stat()
                h.update(f"{entry.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return "folder:" + h.hexdigest()[:16]
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
    except Exception:  # noqa: BLE001 - a name that is no valid repo id: nothing cached
        cached = None
    return "hub:" + (os.path.basename(os.path.dirname(cached)) if isinstance(cached, str) else "unresolved")


class CaptionCache:
    """Get and put :class:`CachedCaption` by clip id for one set of caption settings."""

    def __init__(self, work_dir: str, settings: dict):
        self.settings = settings
        self._named = False
        self.dir = store.join(work_dir, "captions", settings_key(settings))

    def path(self, clip_id: str) -> str:
        """Where the entry of ``clip_id`` lives (a store location)."""
        return store.join(self.dir, f"{clip_id}.json")

    def get(self, clip_id: str, inputs: str = "") -> CachedCaption | None:
        """The cached entry, or None. An unreadable entry is logged and treated as missing;
        one made from other prompt ``inputs`` is missing too."""
        path = self.path(clip_id)
        try:
            data = store.read_bytes(path)
        except FileNotFoundError:
            return None
        try:
            entry = CachedCaption.model_validate_json(data.decode("utf-8"))
            return entry if entry.inputs == inputs else None
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
