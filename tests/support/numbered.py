"""Frames that carry their own number, readable back after lossy encoding and scaling.

Frame ``k`` of :func:`numbered_frames` shows ``k`` in Gray code (one block changes from a
frame to the next, so the number strip never looks like a cut) as a row of ``bits`` black
or white blocks over a moving texture (so the encoder has real content); :func:`read_numbers`
decodes a video and reads the number of each frame, so a test can check which source
frames a clip holds, in which order, and which were skipped or repeated.
"""

from __future__ import annotations


from curate.codec import iter_frames
from support.synth import render

BITS = 8


def numbered_frames(n: int, width: int = 160, height: int = 120, bits: int = BITS):
    """``n`` ``(height, width, 3) uint8`` RGB frames; frame ``k`` shows ``k % 2**bits``."""
    bw = width // bits
    for k in range(n):
        img = render(5, k / 25, width, height, pan=(0.03, 0.0)).copy()
        code = k ^ (k >> 1)
        for b in range(bits):
            img[: height // 8, b * bw:(b + 1) * bw] = 255 if (code >> (bits - 1 - b)) & 1 else 0
        yield img


def read_numbers(path: str, bits: int = BITS) -> list[int]:
    """The number shown by every decoded frame of ``path`` (any size: read at block centres)."""
    out = []
    for frame in iter_frames(path, fmt="gray"):
        img = frame.image
        h, w = img.shape
        row = img[h // 16]
        cells = [row[int((b + 0.5) * w / bits)] for b in range(bits)]
        code = int("".join("1" if c > 127 else "0" for c in cells), 2)
        k = 0
        while code:  # Gray code back to binary
            k ^= code
            code >>= 1
        out.append(k)
    return out
