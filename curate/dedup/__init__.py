"""Near-duplicate clips: multi-index hashing over perceptual hashes, exact and sub-quadratic.

- :mod:`curate.dedup.stage`: the pipeline stage (``stage: dedup``) and its keep rule,
- :mod:`curate.dedup.search`: near pairs by hash bands then an exact check,
- :mod:`curate.dedup.exhaustive`: the brute-force reference (tests, bench),
- :mod:`curate.dedup.groups`: connected components of the pair graph,
- :mod:`curate.dedup.against`: earlier runs' indexes (``--dedup-against``),
- :mod:`curate.dedup.codes`: hex hashes as bit codes, band layout and keys.

The names below load their module on first use (PEP 562): the embed stage needs only
:mod:`curate.dedup.signature`, and a Ray worker or sandbox child that unpickles it should
not import SciPy's graph code and PyArrow's dataset reader (with pandas) for nothing.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"DedupStage": "stage", "keep_key": "stage", "keep_best": "stage", "near_pairs": "search",
            "EarlierIndex": "against", "load_earlier": "against", "locate_index": "against"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Import the module that defines ``name`` (one of ``__all__``). Raises AttributeError otherwise."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
