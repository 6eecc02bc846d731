"""OpenCV's thread pool, held to one thread around work on small images.

OpenCV's thread count is process-wide and ignores ``OMP_NUM_THREADS`` (so a Ray worker
that runs one task per CPU still gets a pool of one thread per core). On small images
the pool costs more than it saves: the score stage's 128-pixel motion sample (DIS and
Lucas-Kanade took 1.5x the CPU time on two threads, results identical) and dedup's
48-pixel signature thumbnails (400 footage candidates 4.4-5.1 CPU-s on one thread,
6.4-6.6 on two, the same wall time and distances). Kept apart from the stages so that
dedup's verification workers need import nothing else for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import cv2


@contextlib.contextmanager
def one_cv_thread() -> Iterator[None]:
    """Run OpenCV on one thread inside the block, restoring its thread count after (also
    on an error)."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)
