"""Score stage: motion, sharpness, exposure and black frames from the shared samples.

- ``motion``: mean optical-flow magnitude over the motion sample (frame widths per
  second; :mod:`curate.flow`), as in Cosmos-Curate's motion filter.
- ``sharpness``: variance of the Laplacian (Pech-Pacheco et al., ICPR 2000) of each
  sample frame's luma at the sample size (short side <= 224), averaged. A sample whose
  frame's short side is under :data:`SHARP_SIDE` (112 px, half the sample's; a tiny
  source) is first scaled up to it (:func:`at_sharp_side`), for ``focus`` too: measured
  at its own size, a picture scored sharper the smaller it was (a break test: one footage
  window 36 at 768x432, 273 at 128x72, 654 at 2x2; blurred by 8 px, 1.6 at full size and
  11.7 at 160x90, kept). From 112 to 224 px a picture is still judged at its own size, so
  there a smaller copy scores sharper too (judging them at 224 made the tests' smooth
  synthetic 160-px scenes, 20-65 at their own size, score 3-7, as their 224-px samples do).
- ``focus``: each frame's Laplacian variance, taken after a Gaussian blur of sigma 1 px,
  divided by its luma variance (x 1000), averaged. The Laplacian variance grows with the
  square of contrast: a sharp clip at a quarter of its exposure scored 3.7 against the
  5.0 a blur at 2 px scores, so dark footage was rejected as blurry; the ratio is the same
  at any gain. The blur takes out 8-bit quantisation and codec noise, which make up most
  of the Laplacian of a dark frame (without it a 4 px blur scored 1.7 at full exposure
  and 15.6 at a fifth). It is low for smooth pictures too (a sky's gradient has variance
  but no Laplacian), so the filter uses it only to keep a clip under ``min_sharpness``
  (``sharp_focus``). Measured on held-out real clips: sharp 3.7-101 at every exposure
  from a fifth to full; blurred by 4-8 px 0.1-2.8 at every exposure (5 px 0.2-4.2).
- ``luma_mean``: mean BT.601 luma of the frame sample, 0..255.
- ``black_fraction``: share of motion-sample frames that are black: mean luma under
  ``black_luma`` and at least ``BLACK_SHARE`` (98 %) of their pixels under it too, as
  FFmpeg's ``blackdetect`` counts a picture black by the share of its pixels (its
  ``picture_black_ratio_th``). A dim night shot whose mean is under ``black_luma`` but
  whose lights and lit windows are not is no black frame: a break test's dark clip (mean
  luma 10.7, the filter's ``min_luma`` 10) was dropped as ``black_frames``, and lowering
  ``min_luma`` kept nothing.
- ``change``: :func:`change` of the motion sample: the largest change of any later
  motion-sample frame from the first, luma levels.
- ``clipped_fraction``: share of the frame sample's pixels with luma >= ``CLIPPED_LUMA``
  (250): blown-out highlights, which a mean luma under the filter's ``max_luma`` hides
  (a picture 60 % white at 255 can average 240).

Every score is of the picture inside letterbox or pillarbox bars (:func:`inside_bars`):
a bar's hard edge had given a blurred clip the Laplacian variance of a sharp one (59-146
against 1.4-2.5 bare), and its black had made a night shot's frames black (a break test).

Also fills ``record.motion_track`` (one :class:`schemas.MotionStep` per consecutive
pair of motion-sample frames: camera motion from the robust fit of :mod:`curate.camfit`
with its confidence, and subject motion against it), which the caption stage turns into
camera segments.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from curate.camfit import FitParams
from curate.cvthreads import one_cv_thread
from curate.dedup.pads import bars_box, paired
from curate.flow import global_motion
from curate.passing import passing_steps
from curate.stage import Stage
from curate.tasks import ClipTask
from schemas import MotionStep, Scores

_MIN_PICTURE = 32  # px: a narrower picture inside bars keeps the whole frame
_EDGE = 2  # px of the picture left out next to a bar


def _grays(frames) -> list[np.ndarray]:
    """BT.601 luma ``(H, W) uint8`` of each frame: ``(N, H, W, 3)`` RGB frames are converted,
    frames already ``(N, H, W)`` luma are taken as they are (the score stage converts once
    for all its sample scores)."""
    return [f if f.ndim == 2 else cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]


SHARP_SIDE = 112  # px: a sample frame with a shorter short side is judged scaled up to it (half the sample side)


def at_sharp_side(grays: np.ndarray, short_side: int) -> np.ndarray:
    """``(N, H, W) uint8`` luma frames scaled up (bilinear) by ``SHARP_SIDE / short_side``
    when ``short_side`` (px, the whole frame's, bars included) is under :data:`SHARP_SIDE`,
    else as they are: a picture smaller than the size it is judged at is as soft there as
    its pixels allow (module docstring)."""
    if short_side >= SHARP_SIDE or not len(grays):
        return grays
    scale = SHARP_SIDE / max(short_side, 1)
    size = (max(1, round(grays.shape[2] * scale)), max(1, round(grays.shape[1] * scale)))
    return np.stack([cv2.resize(g, size, interpolation=cv2.INTER_LINEAR) for g in grays])


def sharpness(frames: np.ndarray) -> float:
    """Mean variance of the Laplacian over ``(N, H, W, 3) uint8`` RGB (or ``(N, H, W)`` luma) frames."""
    vals = [cv2.meanStdDev(cv2.Laplacian(g, cv2.CV_64F))[1][0, 0] ** 2 for g in _grays(frames)]
    return float(np.mean(vals)) if vals else 0.0


CLIPPED_LUMA = 250  # luma at or above which a pixel counts as blown out


def clipped_fraction(frames: np.ndarray) -> float:
    """Share of the pixels of ``(N, H, W, 3) uint8`` RGB (or ``(N, H, W)`` luma) frames whose
    BT.601 luma is at least :data:`CLIPPED_LUMA`, 0..1 (0.0 for no frames)."""
    if len(frames) == 0:
        return 0.0
    hot = sum(cv2.countNonZero(cv2.inRange(g, CLIPPED_LUMA, 255)) for g in _grays(frames))
    return hot / float(frames.shape[0] * frames.shape[1] * frames.shape[2])


def focus(frames: np.ndarray) -> float:
    """Mean over ``(N, H, W, 3) uint8`` RGB (or ``(N, H, W)`` luma) frames of ``1000 *
    var(Laplacian(G(luma))) / max(var(luma), 1)``, ``G`` a Gaussian blur of sigma 1 px
    (module docstring); 0.0 for no frames."""
    vals = []
    for gray in _grays(frames):
        smooth = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), 1.0)
        lap = cv2.meanStdDev(cv2.Laplacian(smooth, cv2.CV_32F))[1][0, 0] ** 2
        vals.append(1000.0 * lap / max(cv2.meanStdDev(gray)[1][0, 0] ** 2, 1.0))
    return float(np.mean(vals)) if vals else 0.0


def luma(frames: np.ndarray) -> np.ndarray:
    """Mean BT.601 luma per frame of ``(N, H, W, 3) uint8`` RGB: ``(N,) float64``.

    Luma is linear in R, G, B, so its mean is the weighted sum of the channel means (channel
    sums by ``cv2.sumElems``, exact for 8-bit values; no float copy of the frames).
    """
    sums = np.array([cv2.sumElems(f)[:3] for f in frames], np.float64).reshape(-1, 3)
    return sums @ np.array([0.299, 0.587, 0.114]) / (frames.shape[1] * frames.shape[2])


CHANGE_BLUR = 1.5  # px (Gaussian sigma) at the motion sample's size: grain and codec noise out


def change(motion: np.ndarray) -> float:
    """How far the picture of ``(M, H, W) uint8`` luma frames moves from its first frame:
    for each later frame the 99th percentile (the least level at or above that of 99 % of
    the pixels) of the absolute difference from the first after a Gaussian blur of
    :data:`CHANGE_BLUR` px, the largest of these, in luma levels (0..255; 0 for fewer than
    two frames). Against the first frame, not the one before, so a slow drift adds up
    (0.01 frame widths/s, 0.6 px a step at 4 fps, had changed 2 levels a step). A still
    held as video scores about 1 once encoded, with film grain too, where the optical flow
    (``motion``) reads grain on flat areas as movement (0.0016-0.0022 frame widths/s, as
    much as a real fixed camera's quiet scene). Levels are counted with ``cv2.calcHist``
    (3 ms for 21 frames of 128 x 228; ``np.percentile`` took 8)."""
    if len(motion) < 2:
        return 0.0
    first = cv2.GaussianBlur(np.ascontiguousarray(motion[0]), (0, 0), CHANGE_BLUR)
    most = 0
    for frame in motion[1:]:
        diff = cv2.absdiff(first, cv2.GaussianBlur(np.ascontiguousarray(frame), (0, 0), CHANGE_BLUR))
        below = cv2.calcHist([diff], [0], None, [256], [0, 256]).ravel().cumsum()
        most = max(most, int(np.searchsorted(below, 0.99 * diff.size)))
    return float(most)


BLACK_SHARE = 0.98  # share of a black frame's pixels under black_luma (FFmpeg blackdetect's default ratio)


def black_frames(motion: np.ndarray, means: np.ndarray, black_luma: float) -> np.ndarray:
    """Which frames of ``motion`` ``(M, H, W) uint8`` luma (``means``: their mean levels,
    ``(M,)``) are black: mean under ``black_luma`` and at least :data:`BLACK_SHARE` of the
    pixels under it (module docstring). Returns ``(M,) bool``."""
    dark = means < black_luma
    if not dark.any():
        return dark
    under = (motion[dark] < black_luma).reshape(int(dark.sum()), -1).mean(axis=1)
    dark[dark] = under >= BLACK_SHARE
    return dark


def _r(x: float | None, nd: int = 5) -> float | None:
    return None if x is None else round(x, nd)


def inside_bars(motion: np.ndarray) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of the picture of ``(M, H, W) uint8`` luma frames inside
    letterbox or pillarbox bars (black pads alike on opposite sides,
    :func:`curate.dedup.pads.bars_box`; not flat pads of other levels, as dedup takes:
    a sky and snow blown out to white above and below were cut off and the clip's clipped
    share read 0, a break test), less :data:`_EDGE` px on each side with a bar
    (the line where a scaled bar meets the picture is a mix of the two, a hard step: it had
    given a blurred letterboxed clip the Laplacian variance of a sharp one); the whole frame
    along an axis without such bars, or where the picture left would be under 32 px."""
    h, w = motion.shape[1:3]
    if not len(motion):
        return 0, h, 0, w
    y0, y1, x0, x1 = bars_box(motion, flat=-1.0)  # black pads only: a flat white band is a blown-out sky
    rows, cols = paired((y0, y1, x0, x1), h, w)
    if rows == h or rows < _MIN_PICTURE + 2 * _EDGE:
        y0, y1 = 0, h
    else:  # the line a bar meets the picture on is a mix of the two: a hard step, no detail
        y0, y1 = y0 + _EDGE, y1 - _EDGE
    if cols == w or cols < _MIN_PICTURE + 2 * _EDGE:
        x0, x1 = 0, w
    else:
        x0, x1 = x0 + _EDGE, x1 - _EDGE
    return y0, y1, x0, x1


def motion_track(motion: np.ndarray, times: list[float], method: str, fit: str = "ransac",
                 picture: tuple[int, int, int, int] | None = None) -> tuple[list[MotionStep], list[float]]:
    """Camera and subject motion between consecutive ``(M, H, W) uint8`` luma frames at ``times`` (s).

    The flow and the camera fit see the picture inside letterbox or pillarbox bars only
    (:func:`inside_bars`), and speeds are in widths of that picture: still bars at two
    edges had read as the still lines of a fixed camera with something passing close
    (:mod:`curate.camrules`), and their zero flow had pulled a zoom's fit to none, so
    letterboxed zooms and pillarboxed pans were labelled static (a break test: 12 of 16).
    Each step's ``luma`` is still the whole frame's. ``picture``: that box when the caller
    has it (:func:`inside_bars` of ``motion``), else measured here.

    ``fit``: ``ransac`` (robust, :mod:`curate.camfit`) or ``least_squares`` (the flow
    field's similarity fit, kept for comparison). Returns the steps and each pair's mean
    flow magnitude (frame widths per second). Raises ValueError on an unknown ``fit``.
    """
    motions, frames = [], motion
    with one_cv_thread():
        if len(motion) > 1:
            y0, y1, x0, x1 = picture or inside_bars(motion)
            frames = motion[:, y0:y1, x0:x1]
        for i in range(1, len(frames)):
            motions.append(global_motion(frames[i - 1], frames[i], times[i] - times[i - 1], method, fit=fit))
        if fit == "ransac":  # objects passing the fixed camera, judged over the steps (curate.passing)
            for i in sorted(passing_steps([m.cells for m in motions], FitParams().cells)):
                motions[i] = global_motion(frames[i], frames[i + 1], times[i + 1] - times[i], method,
                                           fit=fit, hold=True)
    steps, mags = [], []
    for i, gm in enumerate(motions, start=1):
        mags.append(gm.magnitude)
        steps.append(MotionStep(
            t_s=round((times[i] + times[i - 1]) / 2, 4), pan_x=round(gm.pan_x, 5),
            pan_y=round(gm.pan_y, 5), zoom=round(gm.zoom, 5), residual=round(gm.residual, 5),
            magnitude=round(gm.magnitude, 5), luma=round(cv2.sumElems(motion[i])[0] / motion[i].size, 3),
            inlier_share=_r(gm.inlier_share, 3), confidence=_r(gm.confidence, 3),
            subject_share=round(gm.subject_share, 4), subject_x=round(gm.subject_x, 5),
            subject_y=round(gm.subject_y, 5),
        ))
    return steps, mags


class ScoreStage(Stage):
    """Compute :class:`schemas.Scores` and the motion track for every clip.

    Config: ``flow`` (``dis``, the default, fast and accurate on pans; or ``farneback``),
    ``camera_fit`` (``ransac``, the default, or ``least_squares``), ``black_luma`` (0..255).
    """

    name = "score"
    fusable = True  # pure function of the clip's samples: run by the one-decode pass as clips are encoded
    stage: Literal["score"] = "score"
    flow: Literal["farneback", "dis"] = "dis"
    camera_fit: Literal["ransac", "least_squares"] = "ransac"
    black_luma: float = Field(20.0, ge=0, le=255)

    def process(self, task: ClipTask) -> ClipTask:
        rec = task.record
        my0, my1, mx0, mx1 = picture = inside_bars(task.motion)  # (once: the track and the scores)
        with one_cv_thread():
            track, mags = motion_track(task.motion, task.motion_times, self.flow, self.camera_fit, picture)
            grays = np.stack(_grays(task.frames))  # one luma conversion for the three sample scores
            y0, y1, x0, x1 = inside_bars(grays)  # bars are no detail, light or dark of the picture
            grays = np.ascontiguousarray(grays[:, y0:y1, x0:x1])
            frames = np.ascontiguousarray(task.frames[:, y0:y1, x0:x1])
            judged = at_sharp_side(grays, min(task.frames.shape[1:3]))  # a tiny source: at 112 px
            sharp = sharpness(judged)
            motion = task.motion[:, my0:my1, mx0:mx1]
            changed = change(motion)
        motion_luma = motion.reshape(len(motion), -1).mean(axis=1)
        rec.motion_track = track
        rec.scores = Scores(
            motion=round(float(np.mean(mags)), 5) if mags else 0.0,
            sharpness=round(sharp, 3),
            focus=round(focus(judged), 3),
            luma_mean=round(float(luma(frames).mean()), 3),
            black_fraction=round(float(black_frames(motion, motion_luma, self.black_luma).mean()), 4),
            clipped_fraction=round(clipped_fraction(grays), 4),
            change=round(changed, 2),
        )
        return task

