"""Near-duplicate clips: multi-index hashing over perceptual hashes, exact and sub-quadratic.

- :mod:`curate.dedup.stage`: the pipeline stage (``stage: dedup``) and its keep rule,
- :mod:`curate.dedup.search`: near pairs by hash bands then an exact check,
- :mod:`curate.dedup.exhaustive`: the brute-force reference (tests, bench),
- :mod:`curate.dedup.groups`: connected components of the pair graph,
- :mod:`curate.dedup.against`: earlier runs' indexes (``--dedup-against``),
- :mod:`curate.dedup.codes`: hex hashes as bit codes, band layout and keys.
"""

from curate.dedup.against import EarlierIndex, load_earlier, locate_index
from curate.dedup.search import near_pairs
from curate.dedup.stage import DedupStage, keep_key

__all__ = ["DedupStage", "EarlierIndex", "keep_key", "load_earlier", "locate_index", "near_pairs"]
