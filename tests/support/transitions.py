"""Synthetic videos with gradual transitions and flashes, with exact known truth.

Built on :mod:`support.synth`: shots are rendered scenes (``render(seed, t, ...)``),
and the edits between them are composed here frame by frame, the way an editor's
cross-dissolve and fade filters do (linear mix in 8-bit RGB):

- cross-dissolve: ``(1 - a) * A + a * B`` with ``a`` ramping over the dissolve;
- fade to a colour and back: A mixes into a flat frame (black 0 or white 255), holds,
  then the flat frame mixes into B;
- flash: a few frames replaced by a flat white frame inside one shot.

Each builder writes an H.264 file with :func:`support.synth.write_video` and returns
the truth as half-open frame intervals ``(start, end)`` (0-based, decode order).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from support.synth import render, write_video


def _mix(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """``(1 - alpha) * a + alpha * b`` of two ``(H, W, 3) uint8`` frames, rounded to uint8."""
    out = (1.0 - alpha) * a.astype(np.float32) + alpha * b.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _ramp(i: int, n: int) -> float:
    """Mix weight of the ``i``-th of ``n`` transition frames, strictly inside (0, 1)."""
    return (i + 1) / (n + 1)


def dissolve_video(path: str, seed_a: int, seed_b: int, before: int, length: int, after: int,
                   width: int = 256, height: int = 192, fps: float = 25.0,
                   pan_a=(0.0, 0.0), pan_b=(0.0, 0.0)) -> tuple[int, int]:
    """Shot ``seed_a`` for ``before`` frames, a ``length``-frame cross-dissolve, shot ``seed_b``
    for ``after`` frames. Both shots keep moving during the dissolve (``pan_*`` in scene units
    per second). Returns the dissolve interval ``(before, before + length)``: every frame in it
    holds both shots, every frame outside holds exactly one."""
    def frames() -> Iterator[np.ndarray]:
        for i in range(before + length + after):
            a = render(seed_a, i / fps, width, height, pan_a) if i < before + length else None
            b = render(seed_b, (i - before) / fps, width, height, pan_b) if i >= before else None
            if b is None:
                yield a
            elif a is None:
                yield b
            else:
                yield _mix(a, b, _ramp(i - before, length))
    write_video(path, frames(), fps)
    return before, before + length


def fade_video(path: str, seed_a: int, seed_b: int, before: int, out_len: int, hold: int,
               in_len: int, after: int, level: int = 0, width: int = 256, height: int = 192,
               fps: float = 25.0) -> tuple[int, int]:
    """Shot ``seed_a``, fade out over ``out_len`` frames to a flat frame of ``level`` (0 black,
    255 white), ``hold`` flat frames, fade in over ``in_len`` frames to shot ``seed_b``.
    ``seed_b`` may equal ``seed_a`` (a fade out and back into the same scene). Returns the
    fade interval ``(before, before + out_len + hold + in_len)``."""
    flat = np.full((height, width, 3), level, np.uint8)
    start, stop = before, before + out_len + hold + in_len

    def frames() -> Iterator[np.ndarray]:
        for i in range(stop + after):
            if i < start:
                yield render(seed_a, i / fps, width, height)
            elif i < start + out_len:
                yield _mix(render(seed_a, i / fps, width, height), flat, _ramp(i - start, out_len))
            elif i < start + out_len + hold:
                yield flat
            elif i < stop:
                k = i - start - out_len - hold
                yield _mix(flat, render(seed_b, i / fps, width, height), _ramp(k, in_len))
            else:
                yield render(seed_b, i / fps, width, height)
    write_video(path, frames(), fps)
    return start, stop


def flash_video(path: str, seed: int, frames: int, flash_at: int, flash_len: int = 2,
                level: int = 255, width: int = 256, height: int = 192, fps: float = 25.0,
                drift: float = 0.0) -> tuple[int, int]:
    """One static shot of ``seed`` (``drift`` 0: the scene does not move) for ``frames`` frames,
    with frames ``[flash_at, flash_at + flash_len)`` replaced by a flat frame of ``level``
    (a photographer's flash or a lightning strike). Returns the flash interval."""
    flat = np.full((height, width, 3), level, np.uint8)

    def gen() -> Iterator[np.ndarray]:
        for i in range(frames):
            if flash_at <= i < flash_at + flash_len:
                yield flat
            else:
                yield render(seed, i / fps, width, height, drift=drift)
    write_video(path, gen(), fps)
    return flash_at, flash_at + flash_len


def moving_object_video(path: str, seed_bg: int, seed_obj: int, frames: int, approach: bool = False,
                        width: int = 256, height: int = 144, fps: float = 25.0) -> None:
    """One fixed-camera shot: a static textured scene ``seed_bg`` (nothing in it moves) with a
    large textured object ``seed_obj`` that either crosses the frame left to right at half
    the frame height (``approach=False``) or drives towards the camera, growing from 5 % to
    125 % of the frame about the centre (``approach=True``), like a car driving in. No
    frame is a shot boundary or a transition."""
    import cv2

    bg = render(seed_bg, 0.0, width, height, drift=0.0)
    obj = render(seed_obj, 0.0, width, height, drift=0.0) // 2  # darker, like a car body

    def gen() -> Iterator[np.ndarray]:
        for i in range(frames):
            u = i / (frames - 1)
            img = bg.copy()
            s = 0.05 + 1.2 * u ** 2 if approach else 0.6
            ow, oh = max(2, int(width * s)), max(2, int(height * s))
            x = (width - ow) // 2 if approach else int(-ow + (width + ow) * u)
            y = (height - oh) // 2
            big = cv2.resize(obj, (ow, oh), interpolation=cv2.INTER_AREA)
            x0, x1, y0, y1 = max(x, 0), min(x + ow, width), max(y, 0), min(y + oh, height)
            if x1 > x0 and y1 > y0:
                img[y0:y1, x0:x1] = big[y0 - y:y1 - y, x0 - x:x1 - x]
            yield img
    write_video(path, gen(), fps)


def flash_then_cut_video(path: str, seed_a: int, seed_b: int, flash_at: int, cut_at: int, frames: int,
                         width: int = 256, height: int = 144, fps: float = 25.0) -> int:
    """Shot ``seed_a`` with a 2-frame white flash at ``flash_at``, a hard cut to shot ``seed_b``
    at ``cut_at`` (first frame of the new shot), ``frames`` frames in all; returns ``cut_at``."""
    white = np.full((height, width, 3), 255, np.uint8)

    def gen() -> Iterator[np.ndarray]:
        for i in range(frames):
            if flash_at <= i < flash_at + 2:
                yield white
            else:
                yield render(seed_a if i < cut_at else seed_b, i / fps, width, height)
    write_video(path, gen(), fps)
    return cut_at
