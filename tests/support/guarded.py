"""Module-level work functions for the guard tests (they must pickle by reference)."""

import os
import signal
import time

from curate.codec import CodecError


def _count(path):
    with open(path, "a", encoding="ascii") as f:
        f.write("x")


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


def square(x):
    return x * x
