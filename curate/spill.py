"""Frames of one decode held for the encoders, and the thread that decodes them.

:class:`FrameSpill` keeps a source's clip-size ``yuv420p`` frames for the one-decode pass
(:mod:`curate.onepass`): in memory up to a budget, then in a file on node-local scratch
disk. :func:`read_ahead` runs the decode (and the spill's appends) on a thread of its own
so FFmpeg's decoding and scaling, which release the GIL, overlap the shot detection of
the caller's thread.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from bisect import bisect_right

import av
import numpy as np

from curate.codec.colour import COLOUR_TAGS


@functools.lru_cache(maxsize=1)
def shares_buffers() -> bool:
    """Whether this PyAV makes a ``yuv420p`` frame on another frame's plane buffers
    (``VideoFrame.from_dlpack`` with planar formats: PyAV 18 has it). Where it cannot,
    :class:`FrameSpill` holds a copy of each frame's planes instead, as it did before."""
    try:
        probe = av.VideoFrame(16, 16, "yuv420p")
        av.VideoFrame.from_dlpack(tuple(probe.planes), format="yuv420p", width=16, height=16)
    except Exception:  # noqa: BLE001 - no such method, no planar import, no DLPack on planes
        return False
    return True


class FrameSpill:
    """Raw ``yuv420p`` frames of one size, kept in memory up to a budget, then in a file.

    One thread appends while others read frames already appended (the file is written
    unbuffered and read with ``os.pread``; the in-memory list only grows).

    ``width`` x ``height`` (even) clip frames, each in buffers of its own (not a view into
    a larger decoded picture: :func:`curate.codec.decode.own_copy`; a held frame keeps its
    buffers alive): the first ``memory_mb`` megabytes of frames stay in RAM as the
    appended frames themselves (no copy; counted by their buffers,
    padded rows included; most sources: no disk traffic at all), the rest are appended to
    the file at ``path``, on node-local scratch, as their ``(H * 3 / 2, W) uint8`` plane
    layout (``VideoFrame.to_ndarray()``; so are held frames where this PyAV cannot share
    buffers, :func:`shares_buffers`). A frame read back is a new ``av.VideoFrame`` on the
    held buffers (``VideoFrame.from_dlpack``) or on the bytes read, so callers may set its
    ``pts`` and two encoders may read the same frame at once. Each frame's colour tags (range, matrix,
    primaries, transfer) are kept, as runs of frames with the same tags (a stream can change
    them part-way, e.g. joined recordings), and put back on the frame read, so a frame read
    back converts and encodes exactly like the one written.
    """

    def __init__(self, path: str, width: int, height: int, memory_mb: float = 128.0):
        self.path, self.width, self.height = path, width, height
        self.frame_bytes = width * height * 3 // 2
        self.memory_bytes = max(0, int(memory_mb * 2**20))
        self.in_memory = self.memory_bytes // self.frame_bytes  # frames kept in RAM (set again by the first)
        self.count = 0
        self._tag_starts: list[int] = []  # first frame of each run of frames with the same tags
        self._tag_runs: list[tuple[int, ...]] = []  # those tags, in COLOUR_TAGS order
        self._held: list[av.VideoFrame | np.ndarray] = []
        self._wfd: int | None = None  # write side: unbuffered os.write, so readers see each frame at once
        self._fd: int | None = None  # read side, opened once; os.pread is safe across threads

    def append(self, frame: av.VideoFrame) -> None:
        """Store one ``yuv420p`` frame of the spill's size. Raises ValueError otherwise."""
        if frame.format.name != "yuv420p" or (frame.width, frame.height) != (self.width, self.height):
            raise ValueError(f"expected yuv420p {self.width}x{self.height}, got "
                             f"{frame.format.name} {frame.width}x{frame.height}")
        tags = tuple(int(getattr(frame, k)) for k in COLOUR_TAGS)
        if not self._tag_runs or self._tag_runs[-1] != tags:
            self._tag_starts.append(self.count)
            self._tag_runs.append(tags)
        share = shares_buffers() and all(p.line_size > 0 for p in frame.planes)
        if self.count == 0 and share:  # held frames keep their own buffers: padded rows
            held = sum(p.buffer_size for p in frame.planes)
            self.in_memory = self.memory_bytes // max(self.frame_bytes, held)
        if self.count < self.in_memory:
            # The frame itself, no copy (its buffers are not written again); its planes where
            # PyAV cannot share them or they run bottom-up (DLPack takes no negative stride).
            self._held.append(frame if share else frame.to_ndarray())
        else:
            planes = frame.to_ndarray()
            if self._wfd is None:
                self._wfd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            view = memoryview(np.ascontiguousarray(planes)).cast("B")
            while view:  # unbuffered: a frame is readable (os.pread) once append returns
                view = view[os.write(self._wfd, view):]
        self.count += 1

    def frame(self, i: int) -> av.VideoFrame:
        """Frame ``i`` (0-based, in the order appended) as a tagged ``yuv420p`` frame."""
        if not 0 <= i < self.count:
            raise IndexError(f"frame {i} of {self.count}")
        held = self._held[i] if i < self.in_memory else None
        if isinstance(held, av.VideoFrame):
            # A new frame on the held frame's buffers (no copy; they stay alive while either
            # frame does): each caller sets its own pts, and two encoders may read one frame.
            frame = av.VideoFrame.from_dlpack(tuple(held.planes), format="yuv420p",
                                              width=self.width, height=self.height)
        else:
            if held is not None:
                planes = held
            else:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDONLY)
                data = os.pread(self._fd, self.frame_bytes, (i - self.in_memory) * self.frame_bytes)
                planes = np.frombuffer(data, np.uint8).reshape(self.height * 3 // 2, self.width)
            if self.height % 4 == 0:  # no copy: the frame wraps the planes (never written to)
                frame = av.VideoFrame.from_numpy_buffer(planes, format="yuv420p")
            else:  # a chroma plane starts mid-row of the array: only from_ndarray reads that
                frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        for k, v in zip(COLOUR_TAGS, self._tag_runs[bisect_right(self._tag_starts, i) - 1]):
            setattr(frame, k, v)
        return frame

    def close(self) -> None:
        """Close the file for writing (reads still work)."""
        if self._wfd is not None:
            os.close(self._wfd)
            self._wfd = None

    def release(self) -> None:
        """Close the read side and drop the held frames (the file goes with its folder)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._held.clear()


_DONE = object()


def read_ahead(frames, spill: FrameSpill | None = None, depth: int = 32):
    """Iterate ``frames`` (decoded clip frames) on a thread of their own, appending each to
    ``spill`` there, while the caller works on the frames before: decoding and scaling
    (FFmpeg, no GIL) overlap the caller's shot detection (NumPy and Python). At most
    ``depth`` frames wait in between. Yields the frames in order; re-raises what the
    iteration raised; stops the thread when the caller stops early. The spill is closed
    for writing at the end."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:  # False once the consumer has stopped
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for frame in frames:
                if spill is not None:
                    spill.append(frame.image)
                if not put(frame):
                    return
            item = _DONE
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            item = exc
        finally:
            if spill is not None:
                spill.close()
        put(item)

    thread = threading.Thread(target=produce, name="onepass-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = box.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
        close = getattr(frames, "close", None)
        if close is not None:
            close()
