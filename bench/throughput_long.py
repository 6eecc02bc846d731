"""The long 1080p source of ``bench/throughput.py``: real footage played in turn, made once.

Each input video is decoded, scaled to 1920x1080 (letterboxed to keep its aspect) at a
constant 30 fps (each output time takes the last source frame at or before it) and
appended until the requested length; the file is H.264 (``ultrafast``, CRF 18, GOP of
2 s) like a camera or download would give. The result is cached by length and input
names, so a second bench run does not pay for it again.
"""

from __future__ import annotations

import hashlib
import os
from fractions import Fraction

import av
import numpy as np

WIDTH, HEIGHT, FPS = 1920, 1080, 30


def _frames(path: str):
    """``(1080, 1920, 3) uint8`` RGB frames of ``path`` at 30 fps, letterboxed."""
    with av.open(path) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        t0, k = None, 0
        for frame in c.decode(stream):
            t = float(frame.pts * stream.time_base) if frame.pts is not None else k / FPS
            t0 = t if t0 is None else t0
            scale = min(WIDTH / frame.width, HEIGHT / frame.height)
            w, h = int(frame.width * scale) // 2 * 2, int(frame.height * scale) // 2 * 2
            img = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
            canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
            y, x = (HEIGHT - h) // 2, (WIDTH - w) // 2
            canvas[y:y + h, x:x + w] = img
            while k / FPS <= t - t0 + 1e-6:
                yield canvas
                k += 1


def long_source(files: list[str], seconds: float, cache: str) -> str:
    """Path of a ``seconds``-long 1920x1080 30 fps H.264 MP4 made from ``files`` (cached)."""
    key = hashlib.sha256(repr((sorted(os.path.basename(f) for f in files), seconds)).encode()).hexdigest()[:12]
    path = os.path.join(cache, f"long-{int(seconds)}s-{key}.mp4")
    if os.path.exists(path):
        return path
    os.makedirs(cache, exist_ok=True)
    total = int(seconds * FPS)
    tmp = path + ".part.mp4"
    with av.open(tmp, "w") as out:
        enc = out.add_stream("libx264", rate=Fraction(FPS))
        enc.width, enc.height, enc.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        enc.codec_context.options = {"crf": "18", "preset": "ultrafast", "g": str(2 * FPS)}
        n = 0
        while n < total:
            for path_in in files:
                for img in _frames(path_in):
                    frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                    frame.pts, frame.time_base = n, Fraction(1, FPS)
                    out.mux(enc.encode(frame))
                    n += 1
                    if n >= total:
                        break
                if n >= total:
                    break
        out.mux(enc.encode(None))
    os.replace(tmp, path)
    return path
