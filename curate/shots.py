"""Shot-boundary detection on a stream of downscaled frames, with PySceneDetect detectors.

We feed PySceneDetect's detectors (``AdaptiveDetector``, ``ContentDetector`` and, for
fades to and from black, ``ThresholdDetector``) directly with frames that our own
PyAV pass decoded at reduced size, instead of letting PySceneDetect open the file:
one cheap decode gives both the cuts and every frame's presentation time.

References: PySceneDetect ``scenedetect/detectors/`` (Castellano, BSD-3).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scenedetect import AdaptiveDetector, ContentDetector, ThresholdDetector
from scenedetect.common import FrameTimecode


class ShotDetector:
    """Collects shot boundaries from BGR frames fed one at a time.

    Args:
        fps: average frame rate of the source (frames per second); PySceneDetect
            counts ``min_shot_s`` in frames at this rate.
        detector: ``adaptive`` (rolling-average content score, robust to fast motion)
            or ``content`` (fixed threshold on HSV/edge change).
        threshold: ``adaptive_threshold`` (ratio, default 3.0) or the content
            threshold (default 27.0), depending on ``detector``.
        min_content_val: adaptive only: minimum content score for a cut.
        fade_threshold: mean-intensity level (0-255) below which a frame is black for
            fade detection; None disables fade detection.
        min_shot_s: minimum shot length (seconds) between two boundaries.

    ``cuts()`` returns frame indices (0-based, decode order) where a new shot starts,
    sorted and unique; a video without cuts gives ``[]`` (one shot).
    """

    def __init__(self, fps: float, detector: str = "adaptive", threshold: float | None = None,
                 min_content_val: float = 15.0, fade_threshold: float | None = 12.0,
                 min_shot_s: float = 0.5):
        self.fps = float(fps)
        self.min_len = max(1, int(round(min_shot_s * self.fps)))
        if detector == "adaptive":
            main = AdaptiveDetector(adaptive_threshold=threshold or 3.0, min_scene_len=self.min_len,
                                    min_content_val=min_content_val)
        elif detector == "content":
            main = ContentDetector(threshold=threshold or 27.0, min_scene_len=self.min_len)
        else:
            raise ValueError(f"unknown detector {detector!r} (adaptive, content)")
        self.detectors = [main]
        if fade_threshold is not None:
            self.detectors.append(ThresholdDetector(threshold=fade_threshold,
                                                    min_scene_len=self.min_len, fade_bias=0.0,
                                                    add_final_scene=False))
        self._found: list[int] = []
        self.num_frames = 0

    def _tc(self, index: int) -> FrameTimecode:
        return FrameTimecode(index, self.fps)

    def feed(self, frame_bgr: np.ndarray) -> None:
        """Process the next frame, ``(H, W, 3) uint8`` BGR."""
        tc = self._tc(self.num_frames)
        for det in self.detectors:
            self._found.extend(c.frame_num for c in det.process_frame(tc, frame_bgr))
        self.num_frames += 1

    def cuts(self) -> list[int]:
        """Finish detection and return the shot-start frame indices (see class docstring)."""
        end = self._tc(max(self.num_frames - 1, 0))
        for det in self.detectors:
            self._found.extend(c.frame_num for c in det.post_process(end))
        return merge_cuts(self._found, self.num_frames, self.min_len)


def merge_cuts(cuts: Iterable[int], num_frames: int, min_gap: int) -> list[int]:
    """Sorted unique cuts inside ``(0, num_frames)``, dropping any closer than ``min_gap``
    frames to the previous kept cut (the earlier one wins)."""
    kept: list[int] = []
    for c in sorted(set(int(c) for c in cuts)):
        if c <= 0 or c >= num_frames:
            continue
        if kept and c - kept[-1] < min_gap:
            continue
        kept.append(c)
    return kept
