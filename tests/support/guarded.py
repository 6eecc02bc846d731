"""Module-level work functions for the guard tests (they must pickle by reference), and
:func:`_attempts`: how many times the counting ones were called (a ``pathlib.Path``)."""

import os
import signal
import time

from curate.codec import CodecError


def _count(path):
    with open(path, "a", encoding="ascii") as f:
        f.write("x")


def _attempts(path):
    return len(path.read_text()) if path.exists() else 0


def sleepy(path):
    _count(path)
    time.sleep(60)


def crash(path):
    _count(path)
    os.kill(os.getpid(), signal.SIGSEGV)


def balloon(path):
    _count(path)
    blocks = []
    for _ in range(64):
        blocks.append(bytearray(64 * 1024 * 1024))
    return len(blocks)


def verdict(path):
    _count(path)
    raise CodecError("truncated", "cut short")


def pid(_):
    import os

    return os.getpid()


def square(x):
    return x * x


def threads_then_block(mb):
    """Run 16 threads that allocate small buffers at once (glibc gives contending threads
    arenas of their own, each a 64 MB address-space reservation), then allocate ``mb`` MB
    in one block. Returns the block's size in MB."""
    import threading

    import numpy as np

    start = threading.Barrier(16, timeout=10)  # never waits for a thread that did not start

    def churn():
        start.wait()
        for _ in range(200):
            keep = [np.ones(10_000) for _ in range(8)]  # 80 KB each: below the mmap threshold
            del keep

    threads = [threading.Thread(target=churn, daemon=True) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(bytearray(mb * 1024 * 1024)) // (1024 * 1024)


def address_space_limit(_):
    """This process's ``RLIMIT_AS`` soft limit in bytes (-1: none)."""
    import resource

    return resource.getrlimit(resource.RLIMIT_AS)[0]


def nap(seconds):
    time.sleep(seconds)
    return seconds


def rendezvous(args):
    """``args``: ``(folder, name, other)``. Leave a file ``name`` in ``folder`` and wait up
    to 60 s for ``other``'s. Returns ``(pid, met)``: ``met`` is True only when a call for
    ``other`` ran at the same time, in another process."""
    folder, name, other = args
    open(os.path.join(folder, name), "w").close()
    deadline = time.time() + 60
    while time.time() < deadline:
        if os.path.exists(os.path.join(folder, other)):
            return os.getpid(), True
        time.sleep(0.02)
    return os.getpid(), False


def temp_folder(_):
    """The child's temporary folder (``tempfile.gettempdir()``)."""
    import tempfile

    return tempfile.gettempdir()


def spill_then_sleep(path):
    """Write 1 MB into a new temporary folder as the one-decode pass spills frames, write
    that file's path to ``path``, then sleep until killed."""
    import tempfile

    spill = os.path.join(tempfile.mkdtemp(prefix="vidcurate-onepass-"), "frames.yuv")
    with open(spill, "wb") as f:
        f.write(bytes(1 << 20))
    with open(path, "w", encoding="utf-8") as f:
        f.write(spill)
    time.sleep(60)


def scaled(factor, x):
    """A call of the local pool's tests: ``(factor * x, the process id)``."""
    return factor * x, os.getpid()


def missing_file(path):
    """Raises the FileNotFoundError of opening ``path`` (an OSError)."""
    with open(path, "rb") as f:
        return f.read()


def nested(memory_mb):
    """Work that sandboxes work of its own (a local run's restore call re-encodes a clip
    with the extract stage, whose decode is sandboxed): ``(this pid, the inner call's pid,
    the inner call's result)``."""
    from curate.guard import Limits, run_limited

    inner = run_limited(pid, None, Limits(timeout_s=120, memory_mb=memory_mb, retries=0))
    return os.getpid(), inner, run_limited(balloon_mb, 64, Limits(timeout_s=120, memory_mb=memory_mb, retries=0))


def balloon_mb(mb):
    """Allocate and touch ``mb`` MB; returns ``mb``."""
    block = bytearray(mb * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])
    return mb


def touch_later(path, seconds):
    """Sleep ``seconds``, then create ``path`` (a call whose effect shows if it ran)."""
    time.sleep(seconds)
    with open(path, "w", encoding="ascii") as f:
        f.write(str(os.getpid()))
    return path


_HOARD: list = []


def hoard(mb):
    """Keep ``mb`` MB more of this process's memory after the call returns (a leak).
    Returns the process id."""
    _HOARD.append(bytearray(mb * 1024 * 1024))
    return os.getpid()


def hoard_inside(args):
    """Work that runs in a sandbox child itself: ``rounds`` inner sandboxed calls of bound
    ``inner_mb`` that each keep ``mb`` MB (:func:`hoard`). Returns their outcomes: a pid,
    or the failure's text."""
    from curate.guard import LimitExceeded, Limits, run_limited

    inner_mb, mb, rounds = args
    out = []
    for _ in range(rounds):
        try:
            out.append(run_limited(hoard, mb, Limits(timeout_s=120, memory_mb=inner_mb, retries=0)))
        except (LimitExceeded, RuntimeError) as exc:
            out.append(str(exc))
    return out


def fail(_):
    raise ValueError("boom")
