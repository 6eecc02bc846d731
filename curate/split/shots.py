"""Shot-boundary detection on a stream of downscaled frames, with PySceneDetect detectors.

We feed PySceneDetect's detectors (``AdaptiveDetector``, ``ContentDetector`` and, for
fades to and from black, ``ThresholdDetector``) directly with frames that our own
PyAV pass decoded at reduced size, instead of letting PySceneDetect open the file:
one cheap decode gives both the cuts and every frame's presentation time.

Hard cuts come from PySceneDetect; :mod:`curate.flashes` then drops cuts that are only a
brief flash inside one shot, and :mod:`curate.transitions` finds gradual transitions
(dissolves, fades to black or white) and blank stretches as frame intervals that belong
to no shot. Both work on 32-pixel thumbnails kept for every frame (about 1.7 KB a frame).

References: PySceneDetect ``scenedetect/detectors/`` (Castellano, BSD-3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from scenedetect import AdaptiveDetector, ContentDetector, ThresholdDetector
from scenedetect.common import FrameTimecode

from curate.flashes import drop_flashes
from curate.transitions import find_blank, find_gradual, merge_intervals, thumbnail


@dataclass(frozen=True)
class Boundaries:
    """Where shots start and which frames belong to no shot.

    ``cuts``: frame indices (0-based, decode order) where a new shot starts after a hard cut,
    sorted. ``gaps``: half-open frame intervals ``(start, end)`` of gradual transitions and
    blank stretches, sorted and disjoint; a gap ends the shot before it and the next shot
    starts at its end. No cut lies inside a gap.
    """

    cuts: list[int]
    gaps: list[tuple[int, int]] = field(default_factory=list)

    def points(self) -> list[int]:
        """One boundary frame per cut and per gap (its middle frame), sorted."""
        return sorted(self.cuts + [(s + e) // 2 for s, e in self.gaps])


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
        gradual: find dissolves and fades (:mod:`curate.transitions`) as gaps.
        max_transition_s: longest gradual transition (or fade leg) looked for, seconds.
        flash_s: longest flash (seconds) whose cuts are dropped; 0 keeps every cut.
        blank_std: thumbnail luma std (0-255) at or below which a frame is blank; runs of
            blank frames longer than ``flash_s`` become gaps. None disables.

    ``boundaries()`` returns :class:`Boundaries`; ``cuts()`` only its cuts (a video without
    cuts gives ``[]``, one shot).
    """

    def __init__(self, fps: float, detector: str = "adaptive", threshold: float | None = None,
                 min_content_val: float = 15.0, fade_threshold: float | None = 12.0,
                 min_shot_s: float = 0.5, gradual: bool = True, max_transition_s: float = 2.0,
                 flash_s: float = 0.25, blank_std: float | None = 4.0):
        self.fps = float(fps)
        self.min_len = max(1, int(round(min_shot_s * self.fps)))
        self.gradual, self.max_transition_s, self.blank_std = gradual, max_transition_s, blank_std
        self.flash_len = int(round(flash_s * self.fps))
        self._thumbs: list[np.ndarray] = []
        self._final: Boundaries | None = None
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
        self._thumbs.append(thumbnail(frame_bgr))
        self.num_frames += 1

    def cuts(self) -> list[int]:
        """Finish detection and return the hard-cut shot starts (see :class:`Boundaries`)."""
        return self.boundaries().cuts

    def boundaries(self) -> Boundaries:
        """Finish detection (once; later calls return the same result): hard cuts with
        flashes dropped, and gaps (gradual transitions, blank runs)."""
        if self._final is None:
            self._final = self._finish()
        return self._final

    def _finish(self) -> Boundaries:
        end = self._tc(max(self.num_frames - 1, 0))
        for det in self.detectors:
            self._found.extend(c.frame_num for c in det.post_process(end))
        if not self._thumbs:
            return Boundaries([], [])
        thumbs = np.stack(self._thumbs)
        raw = sorted({int(c) for c in self._found if 0 < c < self.num_frames})
        cuts = merge_cuts(drop_flashes(raw, thumbs, self.flash_len), self.num_frames, self.min_len)
        gaps: list[tuple[int, int]] = []
        if self.gradual:
            top = max(3, int(round(self.max_transition_s * self.fps)))
            lengths = sorted({max(3, top >> k) for k in range(4)})
            gaps += find_gradual(thumbs, lengths)
        if self.blank_std is not None:
            gaps += find_blank(thumbs, self.blank_std, self.flash_len + 1)
        return resolve(cuts, gaps, snap=max(2, self.flash_len), join=self.min_len)


def resolve(cuts: list[int], gaps: list[tuple[int, int]], snap: int, join: int = 0) -> Boundaries:
    """Reconcile hard cuts with gaps (frames): a cut inside a gap, or within ``snap`` frames
    of one (a detector reacting to the start or end of a fade), is absorbed by widening the
    gap to it, so no few-frame sliver of a transition is left as a shot. Gaps less than
    ``join`` frames apart (the two legs of a fade around a short black hold; no shot is
    that short) become one."""
    gaps = [list(g) for g in merge_intervals(gaps, gap=join)]
    kept: list[int] = []
    for c in cuts:
        near = [g for g in gaps if g[0] - snap <= c <= g[1] + snap]
        if not near:
            kept.append(c)
            continue
        g = near[0]
        g[0], g[1] = min(g[0], c), max(g[1], c)
    return Boundaries(kept, merge_intervals(gaps, gap=join))


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
