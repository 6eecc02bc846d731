"""Split stage: shot boundaries and clip spans from one reduced-size decode of a source video.

Modules: :mod:`~curate.split.stage` (the stage), :mod:`~curate.split.shots` (hard cuts and
gaps from PySceneDetect or TransNetV2), :mod:`~curate.split.transnet` (the TransNetV2
network), :mod:`~curate.split.flashes` (flash suppression), :mod:`~curate.split.transitions`
(dissolves, fades, blank runs) and :mod:`~curate.split.spans` (boundaries to clip spans).
"""

from curate.split.stage import SplitStage, partial_row

__all__ = ["SplitStage", "partial_row"]
