"""Vision-language captioning: temporally ordered captions with events, signals as hints.

Modules: :mod:`.windows` (time windows over a clip), :mod:`.prompts` (frames with
timestamps and signal hints), :mod:`.model` (the transformers VLM wrapper),
:mod:`.hygiene` (boilerplate and degenerate output), :mod:`.merge` (answers into
captions and events), :mod:`.cache` (per-clip cache), :mod:`.stage` (the stage),
:mod:`.tiny` (a tiny offline VLM for tests and benchmarks). See docs/captioning.md.
"""

from curate.captioning.stage import VLMCaptionStage

__all__ = ["VLMCaptionStage"]
