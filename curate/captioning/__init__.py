"""Vision-language captioning: temporally ordered captions with events, signals as hints.

Modules: :mod:`.windows` (time windows over a clip), :mod:`.prompts` (frames as a video
with its fps or as timed images, signal hints, the JSON task), :mod:`.generation`
(generation settings), :mod:`.model` (the transformers engine), :mod:`.vllm_engine` (the
vLLM engine), :mod:`.constrain` (JSON-schema-constrained decoding), :mod:`.batching`
(token-budget batches, CUDA OOM recovery), :mod:`.answers` (reading answers),
:mod:`.hygiene` (boilerplate and degenerate output), :mod:`.merge` (window captions into
captions and events), :mod:`.cache` (per-clip cache), :mod:`.stage` (the stage),
:mod:`.tiny` (a tiny offline VLM for tests and benchmarks). See docs/captioning.md.
"""

from curate.captioning.stage import VLMCaptionStage

__all__ = ["VLMCaptionStage"]
