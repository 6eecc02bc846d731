"""Camera-motion segments from a clip's motion track.

Each :class:`schemas.MotionStep` is labelled by its dominant global motion, compared
with thresholds: a pan/tilt when the translation exceeds ``pan_threshold`` (frame widths
per second), a zoom when the scale change exceeds ``zoom_threshold`` (per second),
static otherwise. The camera moves against the content: content moving right (flow
``pan_x > 0``) means the camera pans left; content moving down means it tilts up;
content growing means a zoom in. Intensity comes from the total motion (global plus
residual object motion: the mean flow magnitude). A step whose camera fit has a
``confidence`` below ``min_confidence`` (the camera model explains too little of the
frame: a cut, a flash, a frame filled by one moving object) is ``unknown``: no camera
label is better than a wrong one. Labels are smoothed with a 3-step majority filter,
runs of equal labels become segments. Consecutive segments shorter than ``min_segment_s``
that together last at least that long become one segment when their mean motion says
what they are: its move when at least half their steps show it, or static when the mean
does not move although the steps move both ways along one axis (a hand-held camera
shaking: pan left, tilt up, static, pan right, one step each, had taken the label of
whichever step came first). Any segment still shorter than ``min_segment_s`` merges into
its neighbour, so one jittery step does not split a pan.

Subject motion of a segment: the mean share of the frame moving against the camera
(``subject_share``); under ``subject_min_share`` it is ``none``. Its direction is that
of the share-weighted mean subject velocity when that mean is at least
``subject_consistency`` of the mean speed (the subject goes somewhere) and above
``subject_min_speed``; otherwise ``in_place`` (hands signing, leaves shaking).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas import CameraSegment, MotionStep


@dataclass(frozen=True)
class CameraThresholds:
    """Thresholds for labelling motion steps (units in the module docstring)."""

    pan_threshold: float = 0.04
    zoom_threshold: float = 0.04
    intensity_levels: tuple[float, float, float] = (0.01, 0.04, 0.12)
    brightness_delta: float = 12.0
    min_segment_s: float = 0.5
    min_confidence: float = 0.5
    subject_min_share: float = 0.01
    subject_consistency: float = 0.5
    subject_min_speed: float = 0.02


def step_label(step: MotionStep, th: CameraThresholds) -> str:
    """Camera label of one step: static, pan_left/right, tilt_up/down, zoom_in/out, unknown."""
    if step.confidence is not None and step.confidence < th.min_confidence:
        return "unknown"
    cand = {
        "pan": abs(step.pan_x) / th.pan_threshold,
        "tilt": abs(step.pan_y) / th.pan_threshold,
        "zoom": abs(step.zoom) / th.zoom_threshold,
    }
    kind = max(cand, key=cand.get)
    if cand[kind] < 1.0:
        return "static"
    if kind == "pan":
        return "pan_left" if step.pan_x > 0 else "pan_right"
    if kind == "tilt":
        return "tilt_up" if step.pan_y > 0 else "tilt_down"
    return "zoom_in" if step.zoom > 0 else "zoom_out"


def intensity(step: MotionStep, th: CameraThresholds) -> str:
    """Motion intensity of one step: still, low, moderate or strong."""
    total = step.magnitude
    a, b, c = th.intensity_levels
    return "still" if total < a else "low" if total < b else "moderate" if total < c else "strong"


_AXIS = {"pan_left": ("pan_x", 1.0), "pan_right": ("pan_x", -1.0), "tilt_up": ("pan_y", 1.0),
         "tilt_down": ("pan_y", -1.0)}


def _steady_diagonal(labels: list[str], track: list[MotionStep], near: float = 0.75) -> list[str]:
    """A pan step after a tilt step (or a tilt after a pan) keeps the previous step's label
    while its motion along that label's axis, in that label's direction, is at least
    ``near`` of its larger component: a diagonal move of about equal parts had flipped
    between pan and tilt every 0.5-1 s on noise (a break test)."""
    out = list(labels)
    for i in range(1, len(out)):
        prev, cur = out[i - 1], out[i]
        if prev in _AXIS and cur in _AXIS and _AXIS[prev][0] != _AXIS[cur][0]:
            axis, sign = _AXIS[prev]
            step = track[i]
            if sign * getattr(step, axis) >= near * max(abs(step.pan_x), abs(step.pan_y)):
                out[i] = prev
    return out


def _shaken(labels: list[str], track: list[MotionStep], th: CameraThresholds, reach: int = 2) -> list[str]:
    """A pan or tilt step is static when steps within ``reach`` on each side of it (on the
    side there is, at a clip's first or last step) move the opposite way along its axis by
    the threshold or more, and the mean motion along that axis over those steps stays under
    the threshold: a hand-held camera shaking. I.i.d. jitter of 4 px at the motion sample's
    size had given 0.5-1.25 s pan and tilt segments, and a clip-wide `tilt_up` (a break
    test). A pan that turns back has the opposite move on one side only, so keeps its label;
    steps whose fit is ``unknown`` do not count."""
    out = list(labels)
    known = [lab != "unknown" for lab in labels]
    for i, lab in enumerate(labels):
        if lab not in _AXIS:
            continue
        axis, sign = _AXIS[lab]
        sides = [range(max(0, i - reach), i), range(i + 1, min(len(track), i + reach + 1))]
        sides = [[sign * getattr(track[j], axis) for j in side if known[j]] for side in sides if len(side)]
        window = [v for side in sides for v in side] + [sign * getattr(track[i], axis)]
        if all(min(side, default=0.0) <= -th.pan_threshold for side in sides) \
                and abs(float(np.mean(window))) < th.pan_threshold:
            out[i] = "static"
    return out


def _majority(labels: list[str]) -> list[str]:
    out = list(labels)
    for i in range(1, len(labels) - 1):
        if labels[i - 1] == labels[i + 1] != labels[i]:
            out[i] = labels[i - 1]
    return out


def camera_segments(track: list[MotionStep], duration_s: float,
                    th: CameraThresholds = CameraThresholds()) -> list[CameraSegment]:
    """Segments covering ``[0, duration_s]`` without gaps, in time order.

    An empty track (a clip too short for two motion frames) gives one static segment.
    """
    if not track:
        return [CameraSegment(start_s=0.0, end_s=round(duration_s, 3), camera="static", intensity="still")]
    labels = [step_label(s, th) for s in track]
    cams = _majority(_steady_diagonal(_shaken(labels, track, th), track))
    ints = _majority([intensity(s, th) for s in track])
    bounds = [0.0] + [(a.t_s + b.t_s) / 2 for a, b in zip(track[:-1], track[1:])] + [duration_s]
    runs: list[list] = []  # [start, end, camera, intensity, first step, last step]
    for i, (cam, inten) in enumerate(zip(cams, ints)):
        if runs and runs[-1][2] == cam and runs[-1][3] == inten:
            runs[-1][1], runs[-1][5] = bounds[i + 1], i
        else:
            runs.append([bounds[i], bounds[i + 1], cam, inten, i, i])
    runs = _merge_short(_settle_jitter(runs, track, th), th.min_segment_s)
    return [CameraSegment(start_s=round(r[0], 3), end_s=round(r[1], 3), camera=r[2], intensity=r[3],
                          brightness=_brightness(track[r[4]:r[5] + 1], th.brightness_delta),
                          **subject(track[r[4]:r[5] + 1], th))
            for r in runs]


def subject(steps: list[MotionStep], th: CameraThresholds) -> dict:
    """Subject motion of a run of steps: ``{"subject": ..., "subject_share": ...}`` (module docstring)."""
    share = np.array([s.subject_share for s in steps])
    mean_share = float(share.mean()) if len(share) else 0.0
    if mean_share < th.subject_min_share:
        return {"subject": "none", "subject_share": round(mean_share, 4)}
    vel = np.array([[s.subject_x, s.subject_y] for s in steps])
    mean_vel = (share[:, None] * vel).sum(axis=0) / share.sum()
    speed = float((share * np.linalg.norm(vel, axis=1)).sum() / share.sum())
    net = float(np.linalg.norm(mean_vel))
    if net < th.subject_consistency * speed or net < th.subject_min_speed:
        way = "in_place"
    elif abs(mean_vel[0]) >= abs(mean_vel[1]):
        way = "right" if mean_vel[0] > 0 else "left"
    else:
        way = "down" if mean_vel[1] > 0 else "up"
    return {"subject": way, "subject_share": round(mean_share, 4)}


def _net_labels(steps: list[MotionStep], th: CameraThresholds) -> tuple[str, str]:
    """(camera, intensity) of the mean motion of ``steps`` (those not ``unknown``; all unknown:
    ``unknown``)."""
    known = [s for s in steps if step_label(s, th) != "unknown"] or steps
    mean = known[0].model_copy(update={
        "pan_x": float(np.mean([s.pan_x for s in known])), "pan_y": float(np.mean([s.pan_y for s in known])),
        "zoom": float(np.mean([s.zoom for s in known])), "magnitude": float(np.mean([s.magnitude for s in known])),
        "confidence": min((s.confidence for s in known if s.confidence is not None), default=None)})
    return step_label(mean, th), intensity(mean, th)


_OPPOSITE = {"pan_left": "pan_right", "pan_right": "pan_left", "tilt_up": "tilt_down",
             "tilt_down": "tilt_up", "zoom_in": "zoom_out", "zoom_out": "zoom_in"}


def _block_label(steps: list[MotionStep], th: CameraThresholds) -> tuple[str, str] | None:
    """(camera, intensity) for a block of short runs, or None to leave its runs to
    :func:`_merge_short`: the mean motion's move when at least half the steps show it, or
    static when the mean does not move and the steps move more than one way (shake)."""
    cam, inten = _net_labels(steps, th)
    labels = [step_label(s, th) for s in steps]
    if cam not in ("static", "unknown") and labels.count(cam) * 2 >= len(labels):
        return cam, inten
    moving = {a for a in labels if a in _OPPOSITE}
    if cam == "static" and len(moving) >= 2:  # (a break test: shake on two axes had kept a tilt)
        return cam, inten
    return None


def _settle_jitter(runs: list[list], track: list[MotionStep], th: CameraThresholds) -> list[list]:
    """Each block of consecutive runs shorter than ``th.min_segment_s`` that lasts at least
    that long together becomes one run when :func:`_block_label` names its labels; equal
    neighbours are then joined."""
    out: list[list] = []
    i = 0
    while i < len(runs):
        j = i
        while j < len(runs) and runs[j][1] - runs[j][0] < th.min_segment_s:
            j += 1
        first, last = runs[i][4], runs[max(j, i + 1) - 1][5]
        labels = _block_label(track[first:last + 1], th) \
            if j - i >= 2 and runs[j - 1][1] - runs[i][0] >= th.min_segment_s else None
        if labels is not None:
            out.append([runs[i][0], runs[j - 1][1], *labels, first, last])
        else:
            out.extend(runs[i:max(j, i + 1)])
        i = max(j, i + 1)
    joined: list[list] = []
    for r in out:
        if joined and joined[-1][2:4] == r[2:4]:
            joined[-1][1], joined[-1][5] = r[1], r[5]
        else:
            joined.append(r)
    return joined


def _merge_short(runs: list[list], min_s: float) -> list[list]:
    changed = True
    while changed and len(runs) > 1:
        changed = False
        for i, r in enumerate(runs):
            if r[1] - r[0] < min_s:
                j = i - 1 if i > 0 else i + 1
                a, b = sorted((i, j))
                merged = [runs[a][0], runs[b][1], runs[j][2], runs[j][3], runs[a][4], runs[b][5]]
                runs = runs[:a] + [merged] + runs[b + 1:]
                changed = True
                break
    return runs


def _brightness(steps: list[MotionStep], delta: float) -> str:
    if len(steps) < 2:
        return "steady"
    change = steps[-1].luma - steps[0].luma
    return "brightens" if change > delta else "darkens" if change < -delta else "steady"
