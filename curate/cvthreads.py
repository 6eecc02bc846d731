"""OpenCV's and BLAS's thread pools, held to one thread around work on small images.

OpenCV's thread count is process-wide and ignores ``OMP_NUM_THREADS`` (so a Ray worker
that runs one task per CPU still gets a pool of one thread per core). On small images
the pool costs more than it saves: the score stage's 128-pixel motion sample (DIS and
Lucas-Kanade took 1.5x the CPU time on two threads, results identical) and dedup's
48-pixel signature thumbnails (400 footage candidates 4.4-5.1 CPU-s on one thread,
6.4-6.6 on two, the same wall time and distances). Kept apart from the stages so that
dedup's verification workers need import nothing else for it.

NumPy's OpenBLAS starts a thread per core and its threads spin between calls: dedup's
verification, run in the driver (a few candidates, no Ray) on 2 cores, took twice its
CPU time for the same wall time (594 footage candidates: 4.2-5.4 CPU-s against
2.3 on one thread, the same pairs). Ray's workers are held to one thread already (Ray
sets ``OMP_NUM_THREADS``, which OpenBLAS reads, to the task's CPUs); the driver and the
sandbox children are not. :func:`one_blas_thread` limits it with threadpoolctl.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import cv2
from threadpoolctl import threadpool_limits


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


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the BLAS libraries loaded in this process (NumPy's OpenBLAS) on one thread inside
    the block (threadpoolctl), restoring their thread counts after (also on an error)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
