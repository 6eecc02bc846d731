"""Imports moved off the run's critical path: modules the end of a run needs are imported
on a daemon thread while the sources run (or while Ray starts), where both cores are busy
anyway, instead of at the end, where nothing overlaps them. Used by
:class:`pipelines.runner.Runner`.
"""

from __future__ import annotations

import importlib
import threading

# Imported on a thread while the sources run (:func:`preload`), not at the end of the run
# where nothing overlaps them (on 2 cores, measured on ../shared/footage): matplotlib for
# report.html's charts (0.5-1 s); pandas, which pyarrow imports on the first table it
# builds (the index: 0.2 s of the shards phase). SciPy's graph code for dedup's groups
# (:func:`curate.dedup.groups.components`, 0.15 s) joins them when the pipeline dedups.
END_IMPORTS = ("pipelines.report_html.plots", "pandas")


def _import_quietly(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - the import where the module is used says what is wrong
        pass


def preload(*modules: str) -> threading.Thread:
    """Import ``modules``, one after another, on a daemon thread (returned, started): their
    imports cost the driver's waiting time (Ray starting, sources running), not the end of
    the run, where nothing else overlaps them. A module that fails to import is passed over
    quietly (the import where it is used raises) and the next one is still imported. Join
    the thread before using them: an import of a module another thread is still importing
    can return it half made."""
    thread = threading.Thread(target=lambda: [_import_quietly(m) for m in modules],
                              name="vidcurate-preload", daemon=True)
    thread.start()
    return thread
