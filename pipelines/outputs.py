"""The run's ``--output``: checked before any work, so a location the run cannot write is
one clear line (exit 2) instead of a storage error at its end.

Local folders and fsspec URLs alike (:mod:`curate.store`); what each check guards against
was found by new-user trials and break tests (named at each).
"""

from __future__ import annotations

import os
import sys

from curate import store
from pipelines.exits import UsageError

OUTPUT_FILES = ("index.parquet", "rejects.parquet", "manifest.json", "report.html")  # files the run writes


def check_output(output: str) -> str:
    """``output`` resolved (:func:`curate.store.resolve`: a local path made absolute).
    Raises :class:`pipelines.exits.UsageError` when it is a ``memory://`` store (Ray
    workers cannot reach it), an existing file or store object (said before its name is
    excluded from the inputs), below a local file, or holds a folder where the run writes
    one of :data:`OUTPUT_FILES` (the run would fail at its end)."""
    location = store.resolve(output)
    if location.startswith("memory://"):
        raise UsageError(f"--output {output}: a memory:// store lives in one process; "
                         "Ray workers cannot write to it")
    if _is_file(location):
        raise UsageError(f"--output {output}: is a file; --output names a folder (a new one, "
                         "or an earlier run's output to resume)")
    if (above := _file_above(location)) is not None:  # a new-user trial: a storage error had said it
        raise UsageError(f"--output {output}: {above} is a file, so no folder can be made below it")
    for folder in store.folders_at(location, OUTPUT_FILES):
        raise UsageError(f"--output {output}: {folder} is a folder where the run writes a file; "
                         "remove or rename it")
    if others := foreign(location):  # a new-user trial: a folder of notes took a run silently
        print(f"warning: --output {output} holds files of no vidcurate run ({', '.join(others[:3])}"
              f"{', ...' if len(others) > 3 else ''}); the run's files go beside them", file=sys.stderr)
    return location


RUN_NAMES = OUTPUT_FILES + ("work", "shards")  # what a run's output folder holds


def foreign(location: str) -> list[str]:
    """Names in a local ``location`` (the --output, resolved) when it is a folder holding something but
    nothing a run writes (:data:`RUN_NAMES`): another tool's files, which the run's would
    join. [] for a new or empty folder (hidden names, ``.DS_Store``, do not count), an
    earlier run's output, or a store URL."""
    if store.is_url(location):
        return []
    try:
        names = sorted(n for n in os.listdir(location) if not n.startswith("."))
    except OSError:  # not there (a new output) or not a folder (said above)
        return []
    return [] if any(n in RUN_NAMES for n in names) else names


def resolved(location: str) -> str:
    """``location`` as :func:`curate.store.resolve` gives it (a local path made absolute), or
    as given when it cannot be resolved (:func:`curate.dedup.against.check_earlier` says why)."""
    try:
        return store.resolve(location)
    except (ValueError, ImportError):
        return location


def _is_file(location: str) -> bool:
    """Whether ``location`` (the --output) is an existing file or store object; False when
    the store cannot say (it is asked again, with a clear error, when the lease is taken)."""
    try:
        fs, bare = store.filesystem(location)
        return bool(fs.isfile(bare))
    except Exception:  # noqa: BLE001 - no backend, no credentials, no endpoint
        return False


def _file_above(location: str) -> str | None:
    """The nearest folder of a local ``location`` (resolved) that is a file (no folder can be made
    below it), or None (also for a store URL)."""
    if store.is_url(location):
        return None
    path = os.path.abspath(location)
    parent = os.path.dirname(path)
    while parent != path:
        if os.path.isfile(parent):
            return parent
        path, parent = parent, os.path.dirname(parent)
    return None
