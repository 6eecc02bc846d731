"""Repeated frames: how many of a clip's frames show a new picture.

A copy whose frame rate was raised by repeating frames (FFmpeg's ``fps`` filter from 12.5
to 30 fps, a 24 fps film doubled to 48 or 60, frame-doubled 30 fps uploads) shows no more
pictures a second than its original, though its rate says more: the keep rule of
:mod:`curate.dedup.stage` had kept such copies over their originals, by their frame rate
(a break test: in 5 of 8 groups of re-uploaded copies a 24, 30 or 60 fps copy of a 10 or
12.5 fps original won). The extract stage counts, as it encodes a clip, the frames whose
picture differs from the one before (:class:`DistinctFrames`): their mean absolute luma
change at the clip's size is at least :data:`REPEAT_LEVEL`, and at least
:data:`REPEAT_SHARE` of the clip's 90th percentile change. Measured on re-encoded copies
of the footage (H.264 at crf 14-23, clip size 456x256), a repeated frame changes by 0.0-0.35
levels after the copy's own encode and ours (the encoder refining the picture it repeats),
where a new picture of a moving scene changes by 0.6-7; a fixed camera's quiet room
changes by 0.02 and up, so a still scene's frames count as repeats too, in its original
as in its copies. The count is ``ClipVideo.distinct_frames``.
"""

from __future__ import annotations

import av
import cv2
import numpy as np

REPEAT_LEVEL = 0.3
"""Luma levels (0..255): a frame whose mean absolute change from the frame before is under
this repeats it (module docstring)..."""
REPEAT_SHARE = 0.2
"""...and so does one whose change is under this share of the clip's 90th percentile change."""


def luma_plane(frame: av.VideoFrame) -> np.ndarray:
    """The ``(H, W) uint8`` luma plane of a planar YUV ``frame`` (``yuv420p`` and the like),
    a view of its buffer (no copy; rows may be padded past ``W`` in memory)."""
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, :plane.width]


class DistinctFrames:
    """Counts the frames fed with :meth:`add` whose picture is new (:attr:`count`): the
    first, and each whose luma (:func:`luma_plane`) changes from the one before by a mean
    of at least :data:`REPEAT_LEVEL` levels and of at least :data:`REPEAT_SHARE` of the
    90th percentile of those changes over all the frames fed. The same frame object fed
    twice (a constant-rate grid repeating a frame, :func:`curate.timegrid.resample`)
    changes by 0 without a look."""

    def __init__(self) -> None:
        self.changes: list[float] = []  # mean absolute luma change of each frame after the first (same size)
        self._fed = self._resized = 0
        self._last: av.VideoFrame | None = None
        self._luma: np.ndarray | None = None

    def add(self, frame: av.VideoFrame) -> None:
        """Take the next frame (planar YUV, as the clip is encoded)."""
        self._fed += 1
        if frame is self._last:
            self.changes.append(0.0)
            return
        luma = luma_plane(frame)
        if self._luma is not None and self._luma.shape != luma.shape:
            self._resized += 1  # a new picture size: a new picture, not a change to weigh
        elif self._luma is not None:
            self.changes.append(cv2.sumElems(cv2.absdiff(luma, self._luma))[0] / luma.size)
        self._last, self._luma = frame, luma

    @property
    def count(self) -> int:
        """Frames fed whose picture is new (class docstring); 0 when none was fed."""
        if not self._fed:
            return 0
        if not self.changes:
            return 1 + self._resized
        changes = np.asarray(self.changes)
        level = max(REPEAT_LEVEL, REPEAT_SHARE * float(np.percentile(changes, 90)))
        return 1 + self._resized + int(np.count_nonzero(changes >= level))
