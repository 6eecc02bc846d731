"""Shot-boundary detection on a stream of downscaled frames: PySceneDetect or TransNetV2.

We feed the detectors directly with frames that our own PyAV pass decoded at reduced
size, instead of letting them open the file: one cheap decode gives the cuts and every
frame's presentation time.

- ``adaptive`` / ``content``: PySceneDetect's ``AdaptiveDetector`` or ``ContentDetector``
  (plus ``ThresholdDetector`` for fades to black) give hard cuts, with no minimum scene
  length of their own; :mod:`curate.split.transitions` finds dissolves and fades as gaps.
- ``transnetv2``: the TransNetV2 network (:mod:`curate.split.transnet`) on 48x27 copies of
  the same frames; a detection one or two frames long is a hard cut, a longer one (its
  ``many`` head marks every transition frame) a gap, unless it is only a brightness dip
  or rise (:func:`curate.split.flashes.is_excursion`); :mod:`curate.split.transitions`
  adds the dissolves and fades it misses.

Covers, reveals and push slides (one shot drawn in over the other, or off it, or pushing
it out, behind a straight seam crossing the picture) are gaps too, whichever detector
runs (:mod:`curate.split.slides`).

Whichever detector runs, isolated spikes of the thumbnail change add weak cuts (a jump cut
inside one camera, :mod:`curate.split.spikes`); those spikes and the content score's cuts
are kept only where some thumbnail pixel changes clearly (a keyframe of low-bitrate video
that restores the detail its GOP smeared away is no cut). Dropped: cuts that are only a
brief flash inside one shot, and TransNetV2 gaps that are only a brightness dip or rise
(:mod:`curate.split.flashes`); lights blinking, switched or swept in over one view (cuts
and dissolve-scan gaps, :mod:`curate.split.lights`); a graphic shown and taken away,
or the gaps of one faded in and out (:mod:`curate.split.overlays`,
:mod:`curate.split.overlay_fades`); a screen in view (a TV, a monitor) cutting between its
own shots (:mod:`curate.split.screens`). Runs of blank frames become gaps; cuts closer than
``flash_s`` (at least 2 frames) are one event (the larger picture change wins), unless
the frames between them are a shot of their own (:func:`curate.split.inserts.shot_between`:
both stay; a cut beside a gap stays apart from it so too); a shot
between cuts further apart is its own piece however short (``too_short`` under
``min_clip_s``: joined to a neighbour it would put two shots in one clip); gaps less than
``min_shot_s`` apart merge (a fade out and in around a black hold). Thumbnails: 1.7 KB a frame.

References: PySceneDetect ``scenedetect/detectors/`` (Castellano, BSD-3); TransNetV2
(Soucek & Lokoc 2020, see :mod:`curate.split.transnet`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from scenedetect import AdaptiveDetector, ContentDetector, ThresholdDetector
from scenedetect.common import FrameTimecode

from curate.split import fastscore, transnet
from curate.split.blanks import FlatFrames
from curate.split.lights import drop_blinks, drop_swept
from curate.split.flashes import drop_flashes, is_excursion, is_flash, reaches_black
from curate.split.gradual import GradualScan, ThumbBuffer
from curate.split.inserts import shot_between
from curate.split.overlay_fades import drop_faded_overlays
from curate.split.overlays import drop_overlays, lazy_picture
from curate.split.screens import drop_screen_cuts
from curate.split.seams import SeamProfiles
from curate.split.slides import slide_gaps
from curate.split.spikes import jumps, moving, spike_cuts, stepped
from curate.split.transitions import merge_intervals, resolve_gaps, thumbnail

DETECTORS = ("adaptive", "content", "transnetv2")
SCAN_EVERY = 32  # frames between two incremental dissolve scans
fastscore.install()  # the same content scores, less CPU


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
        detector: ``adaptive`` (rolling-average content score, robust to fast motion),
            ``content`` (fixed threshold on HSV/edge change) or ``transnetv2`` (network).
        threshold: ``adaptive_threshold`` (ratio, default 3.0), the content threshold
            (default 27.0) or the TransNetV2 probability (default 0.5), by ``detector``.
        min_content_val: adaptive only: minimum content score for a cut.
        fade_threshold: mean-intensity level (0-255) below which a frame is black for
            fade detection; None disables fade detection.
        min_shot_s: gaps (gradual transitions, blank runs) closer than this (seconds) join.
        gradual: find dissolves and fades (:mod:`curate.split.transitions`) as gaps.
        max_transition_s: longest gradual transition (or fade leg) looked for, seconds.
        flash_s: longest flash (seconds) whose cuts are dropped; 0 keeps every cut.
        blank_std: thumbnail luma std (0-255) at or below which a frame is flat; runs of
            blank frames (flat, and no dim picture that persists from frame to frame:
            :mod:`curate.split.blanks`) longer than ``flash_s`` become gaps. None disables.
        device: ``transnetv2`` only: ``auto`` (GPU when present), ``cpu`` or ``cuda[:i]``.
        batch: ``transnetv2`` only: 100-frame windows per forward pass.

    Raises ValueError for an unknown ``detector``.

    ``boundaries()`` returns :class:`Boundaries`; ``cuts()`` only its cuts (a video without
    cuts gives ``[]``, one shot).
    """

    def __init__(self, fps: float, detector: str = "adaptive", threshold: float | None = None,
                 min_content_val: float = 15.0, fade_threshold: float | None = 12.0,
                 min_shot_s: float = 0.5, gradual: bool = True, max_transition_s: float = 2.0,
                 flash_s: float = 0.25, blank_std: float | None = 2.0, device: str = "auto",
                 batch: int = 8):
        if detector not in DETECTORS:
            raise ValueError(f"unknown detector {detector!r} ({', '.join(DETECTORS)})")
        self.fps = float(fps)
        self.min_len = max(1, int(round(min_shot_s * self.fps)))
        self.flash_len = int(round(flash_s * self.fps))
        self.merge_len = max(2, self.flash_len)  # closer cuts are one event (module docstring)
        self.gradual, self.max_transition_s, self.blank_std = gradual, max_transition_s, blank_std
        self.kind, self.threshold, self.device, self.batch = detector, threshold, device, batch
        self._thumbs = ThumbBuffer()
        top = max(3, int(round(max_transition_s * self.fps)))
        # dissolves and fades are judged as frames arrive (same result as find_gradual at the end)
        self._gradual = GradualScan(sorted({max(3, top >> k) for k in range(4)})) if gradual else None
        self._top, self._seams = top, SeamProfiles() if gradual else None  # covers and reveals
        self._net: list[np.ndarray] = []  # transnetv2: (27, 48, 3) RGB inputs
        self.net_scores: tuple[np.ndarray, np.ndarray] | None = None  # transnetv2: (single, many)
        self._final: Boundaries | None = None
        # No minimum scene length inside PySceneDetect: it would keep a flash's cut and
        # suppress a real cut just after it; merge_cuts joins cuts of one event after the flash filter.
        self.detectors = []
        if detector == "adaptive":
            self.detectors.append(AdaptiveDetector(adaptive_threshold=threshold or 3.0, min_scene_len=1,
                                                   min_content_val=min_content_val))
        elif detector == "content":
            self.detectors.append(ContentDetector(threshold=threshold or 27.0, min_scene_len=1))
        self._mean: fastscore.FrameMean | None = None
        self._fades = None
        if fade_threshold is not None and detector != "transnetv2":
            fades = ThresholdDetector(threshold=fade_threshold, min_scene_len=1, fade_bias=0.0,
                                      add_final_scene=False)
            fades.stats_manager = self._mean = fastscore.FrameMean()  # the same means, less CPU
            self.detectors.append(fades)
            self._fades = fades
        self._found: list[int] = []  # cuts as found: fades to black (and TransNetV2's)
        self._content: list[int] = []  # the content score's cuts: kept where something moves
        self.num_frames = 0

    def _tc(self, index: int) -> FrameTimecode:
        return FrameTimecode(index, self.fps)

    def feed(self, frame_bgr: np.ndarray) -> None:
        """Process the next frame, ``(H, W, 3) uint8`` BGR."""
        tc = self._tc(self.num_frames)
        if self._mean is not None:
            self._mean.put(frame_bgr)
        for det in self.detectors:
            found = (c.frame_num for c in det.process_frame(tc, frame_bgr))
            (self._found if det is self._fades else self._content).extend(found)
        if self.kind == "transnetv2":
            self._net.append(transnet.input_frame(frame_bgr))
        self._thumbs.append(thumbnail(frame_bgr))
        if self._seams is not None:
            self._seams.append(frame_bgr)
        self.num_frames += 1
        if self._gradual is not None and self.num_frames % SCAN_EVERY == 0:
            self._gradual.scan(self._thumbs.view())

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
            found = (c.frame_num for c in det.post_process(end))
            (self._found if det is self._fades else self._content).extend(found)
        if not len(self._thumbs):
            return Boundaries([], [])
        thumbs = self._thumbs.view()
        gaps = self._network(thumbs) if self.kind == "transnetv2" else []
        live = lazy_picture(thumbs)
        scanned = self._gradual.result(thumbs) if self._gradual is not None else []
        gaps += scanned
        flats = self._flats(thumbs, 0)
        cuts = self._hard_cuts(self._black(self._found, thumbs, 0) + (flats.cuts() if flats else []),
                               self._content, thumbs, live)
        if flats is not None:
            gaps += flats.holds(self.flash_len + 1)
        cuts, gaps = drop_faded_overlays(cuts, gaps, thumbs, live=live)
        gaps = drop_swept(gaps, thumbs, scanned) + slide_gaps(self._seams, thumbs, 0, self._top, self.fps)
        return resolve(cuts, gaps, snap=max(2, self.flash_len), join=self.min_len, thumbs=thumbs)

    @property
    def can_preview(self) -> bool:
        """Whether :meth:`preview` works: not for ``transnetv2``, which scores at the end."""
        return self.kind != "transnetv2"

    def preview(self, lo: int) -> Boundaries:
        """Boundaries of frames ``[lo, num_frames)`` (absolute indices) by the final rules,
        from what is known now. Near ``lo`` and the newest frame it may differ from
        :meth:`boundaries` (no context yet); :mod:`curate.speculate` trusts it only far
        from both, and checks. Raises RuntimeError for ``transnetv2``."""
        if not self.can_preview:
            raise RuntimeError("transnetv2 boundaries are known only at the end")
        n = self.num_frames
        thumbs = self._thumbs.view()[lo:n]
        if len(thumbs) < 2:
            return Boundaries([], [])
        live = lazy_picture(thumbs)
        flats = self._flats(thumbs, lo)
        cuts = self._hard_cuts([c - lo for c in self._black(self._found, thumbs, lo)] + (flats.cuts() if flats else []),
                               [c - lo for c in self._content], thumbs, live)
        scanned = [(max(s - lo, 0), e - lo) for s, e in self._gradual.intervals(lo)] if self._gradual else []
        gaps = list(scanned) + (flats.holds(self.flash_len + 1) if flats is not None else [])
        cuts, gaps = drop_faded_overlays(cuts, gaps, thumbs, live=live)
        gaps = drop_swept(gaps, thumbs, scanned) + slide_gaps(self._seams, thumbs, lo, self._top, self.fps)
        b = resolve(cuts, gaps, snap=max(2, self.flash_len), join=self.min_len, thumbs=thumbs)
        return Boundaries([c + lo for c in b.cuts], [(s + lo, e + lo) for s, e in b.gaps])

    def _flats(self, thumbs: np.ndarray, lo: int) -> FlatFrames | None:
        """Flat and blank frames of ``thumbs`` (frames ``lo`` on; None without ``blank_std``),
        on the luma the gradual scan already keeps where it has scanned them."""
        if self.blank_std is None:
            return None
        luma = self._gradual.luma(lo, lo + len(thumbs)) if self._gradual is not None else None
        return FlatFrames(thumbs, self.blank_std, luma=luma)

    def _hard_cuts(self, fades: list[int], content: list[int], thumbs: np.ndarray,
                   live: Callable[[], np.ndarray]) -> list[int]:
        """The hard cuts of ``thumbs`` (frame indices into them, sorted), for the final result
        and previews alike: the ``fades`` cuts (already judged by :meth:`_black`), the
        ``content`` cuts and jump-cut spikes where something moves, without flashes,
        blinking lights (:mod:`curate.split.lights`), overlays and screens in view
        (:mod:`curate.split.screens`), cuts closer than
        ``merge_len`` merged. ``live``: the thumbnails' picture, measured on demand
        (:func:`curate.split.overlays.lazy_picture`)."""
        strength = jumps(thumbs)
        steps = stepped(content, strength, thumbs)  # a low-rate camera's new pictures, not cuts
        raw = sorted({int(c) for c in fades if 0 < c < len(thumbs)}
                     | moving([c for c in content if c not in steps] + spike_cuts(strength), thumbs))
        cuts = drop_blinks(drop_flashes(raw, thumbs, self.flash_len), thumbs, self.fps, live)
        cuts = drop_screen_cuts(drop_overlays(cuts, thumbs, live=live), thumbs, live, frozenset(raw))
        return merge_cuts(cuts, len(thumbs), self.merge_len, strength=strength,
                          apart=lambda a, b: shot_between(thumbs, a, b))

    def _black(self, found: list[int], thumbs: np.ndarray, lo: int) -> list[int]:
        """``found`` (absolute frame indices; ``thumbs`` start at frame ``lo``) without the
        fade cuts whose dark run never reaches black (:func:`curate.split.flashes.reaches_black`)."""
        inside = [c for c in found if 0 <= c - lo < len(thumbs)]
        if self._fades is None or not inside:  # TransNetV2's cuts (no fade detector), or none to judge
            return found
        level, means = self._fades.threshold, thumbs.reshape(len(thumbs), -1).mean(axis=1)
        return [c for c in found if c not in inside or reaches_black(thumbs, c - lo, level, means)]

    def _network(self, thumbs: np.ndarray) -> list[tuple[int, int]]:
        """Run TransNetV2 over the collected inputs: its cuts go to ``_found`` (unless only the
        steep part of a brightness dip or rise), its gaps are returned (the legs of one dip or
        fade merged first; flashes and brightness excursions dropped, also where the gap
        covers only one leg of the excursion: spans widened by 3, 6 or 12 frames are tried)."""
        single, many = transnet.predict(np.stack(self._net), self.device, self.batch)
        self._net, self.net_scores = [], (single, many)
        found, net_gaps = transnet.net_boundaries(single, many, self.threshold or 0.5)
        self._found.extend(c for c in found
                           if not any(is_excursion(thumbs, c - k, c + k) for k in (3, 6, 12)))
        net_gaps = merge_intervals(net_gaps, gap=self.min_len)
        # a gap over one leg of a brightness dip or rise: the excursion shows on a wider span
        return [g for g in net_gaps if not (is_flash(thumbs, g[0], self.flash_len) or any(
            is_excursion(thumbs, g[0] - k, g[1] + k) for k in (0, 3, 6, 12)))]


def resolve(cuts: list[int], gaps: list[tuple[int, int]], snap: int, join: int = 0,
            thumbs: np.ndarray | None = None) -> Boundaries:
    """:func:`curate.split.transitions.resolve_gaps` as :class:`Boundaries`; with ``thumbs``
    (``(n, h, w, 3) uint8``), a short shot between a cut and a gap, or between two gaps,
    keeps them apart (:func:`curate.split.inserts.shot_between`)."""
    apart = None if thumbs is None else (lambda a, b, *around: shot_between(thumbs, a, b, *around))
    return Boundaries(*resolve_gaps(cuts, gaps, snap, join, apart))


def merge_cuts(cuts: Iterable[int], num_frames: int, min_gap: int,
               strength: np.ndarray | None = None,
               apart: Callable[[int, int], bool] | None = None) -> list[int]:
    """Sorted unique cuts inside ``(0, num_frames)`` with none closer than ``min_gap`` frames.

    Of cuts too close together the one with the larger ``strength[c]`` (the picture change
    into frame ``c``, see :func:`curate.split.spikes.jumps`) wins; without ``strength`` the
    earlier one wins. Two close cuts ``a < b`` both stay where ``apart(a, b)`` is true (a
    shot of its own between them, :func:`curate.split.inserts.shot_between`)."""
    inside = sorted({int(c) for c in cuts if 0 < c < num_frames})
    order = sorted(inside, key=lambda c: -float(strength[c])) if strength is not None else inside
    kept: list[int] = []
    for c in order:
        if all(abs(c - k) >= min_gap or (apart is not None and apart(min(c, k), max(c, k))) for k in kept):
            kept.append(c)
    return sorted(kept)

