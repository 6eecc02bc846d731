"""Clips encoded while the one-decode pass is still reading: speculative spans, checked at the end.

Shot boundaries are final only once the whole source has been seen (a dissolve, a flash,
the minimum shot length and the equal windows of a long shot look both ways), so
:mod:`curate.onepass` used to encode every clip after the decode: on a 10-minute 1080p
source the encoders waited about a minute, then the decoder sat idle while they worked.
Here the pass asks the shot detector, every ``every_s`` seconds of video (less often
while a shot goes on: the interval grows with the open shot, so the previews cost
linear time overall), for a preview of its boundaries
(:meth:`curate.split.shots.ShotDetector.preview`). Boundaries more than ``horizon`` frames
behind the newest frame (twice the longest transition plus the minimum shot length, or
the blink window of :mod:`curate.split.lights` if longer, plus half a second: every rule
of the detector reaches less far) are taken as settled; each
shot closed by them is planned into spans by the split stage's own rules
(:func:`curate.split.spans.plan_spans`) and its spans are encoded at once, on the pass's
encoder threads, from the frames already held (:class:`curate.spill.FrameSpill`).

Nothing is trusted: at the end the split stage plans the final spans from the final
boundaries as before, and a speculative encode is used only for a final span with the
same first and last frame, the same start and end times and the same output frame rate
(the rate is the decoded frame count over the duration, estimated from the frames so
far; the clip's frames, times and rate fix its bytes). Its clip task then gets the final
source record and span; every other final span is encoded as before, and a speculative
clip no final span wants is dropped with the scratch folder. So the clips are exactly
those of a pass without speculation (tested), and a wrong guess only costs the CPU of
one clip. TransNetV2 scores at the end (:attr:`~curate.split.shots.ShotDetector.can_preview`
is false): no speculation.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import pickle
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from curate.codec.timestamps import frame_rate
from curate.timegrid import clip_rate
from curate.split import lights
from curate.split.spans import plan_spans

Key = tuple[int, int, float, float]  # first frame, end frame, start_s, end_s of a span


def span_key(span) -> Key:
    """What fixes a clip's frames: ``(start_frame, end_frame, start_s, end_s)`` of a :class:`schemas.Span`."""
    return span.start_frame, span.end_frame, span.start_s, span.end_s


class Speculator:
    """Plans and encodes the settled shots of a one-decode pass while it decodes.

    Args:
        encode: ``encode(span, times, fps) -> str``, run on ``pool``: encode ``span``
            (frames ``times`` known so far) at output rate ``fps`` and return the path of
            the pickled clip task (see :func:`curate.onepass.run_one_pass`).
        split: the :class:`curate.split.SplitStage` (span rules, transition lengths).
        fps: the probed frame rate (frames per second); ``max_fps``: the extract stage's cap.
        pool: the pass's encoder threads.
        every_s: seconds of video between two previews while shots are short.
    """

    def __init__(self, encode, split, fps: float, max_fps: float, pool: ThreadPoolExecutor,
                 every_s: float = 2.0):
        self.encode, self.split, self.max_fps, self.pool = encode, split, max_fps, pool
        reach = max(2 * split.max_transition_s + split.min_shot_s, lights.WINDOW_S)  # blinks look 3 s out
        self.horizon = int(math.ceil((reach + 0.5) * fps))
        self.every = max(16, int(round(every_s * fps)))
        self.pos = 0  # end of the last settled boundary: the open shot starts here
        self._last = 0  # frame count at the last preview
        self.jobs: dict[Key, tuple[float, Future]] = {}  # span key -> (output fps, pickled clip task path)
        self.used = 0

    def advance(self, detector, times: list[float]) -> None:
        """Called after each frame is fed to ``detector`` (``times``: every frame's time so
        far, seconds); now and then previews the boundaries and starts the settled shots' encodes."""
        n = len(times)
        if n - self._last < max(self.every, (n - self.pos) // 4) or not detector.can_preview:
            return
        self._last = n
        settled = n - self.horizon
        if settled <= self.pos:
            return
        bounds = detector.preview(max(0, self.pos - self.horizon))
        for s, e in sorted([(c, c) for c in bounds.cuts] + list(bounds.gaps)):
            if e > settled:
                break
            if s <= self.pos:  # seen before (or a gap that grew over it)
                self.pos = max(self.pos, e)
                continue
            self._shot(self.pos, s, times)
            self.pos = e

    def _shot(self, a: int, z: int, times: list[float]) -> None:
        """Plan the shot of frames ``[a, z)`` (bounded by settled boundaries) and start the
        encodes of its spans."""
        n = len(times)
        step = float(np.median(np.diff(times[-min(n, 256):]))) if n > 1 else 0.0
        rate = frame_rate(times)  # the split stage's rule (SplitStage.finish), on the frames so far
        fps = min(round(rate, 6) if rate else self.max_fps, self.max_fps)
        a0 = a - 1 if a > 0 else 0  # one frame before keeps the cut at a (trimmed like a cut)
        sub = times[a0:z + 1]
        kept, _ = plan_spans([a - a0, z - a0], sub, sub[-1] + step, min_clip_s=self.split.min_clip_s,
                             max_clip_s=self.split.max_clip_s, trim_s=self.split.trim_s)
        snapshot = times[:z + 1]
        for span in kept:
            if span.start_frame < a - a0 or span.end_frame > z - a0:
                continue
            span = span.model_copy(update={"start_frame": span.start_frame + a0,
                                           "end_frame": span.end_frame + a0})
            key = span_key(span)
            if key not in self.jobs:  # the rate its encode gives the clip (ExtractStage.encode_span)
                self.jobs[key] = (clip_rate(fps, span, self.max_fps), self.pool.submit(self.encode, span, snapshot, fps))

    def take(self, span, fps: float):
        """The pickled clip task (its path) encoded for the final ``span`` at output rate
        ``fps``, or None when none matches or its encode failed (the caller encodes it)."""
        hit = self.jobs.get(span_key(span))
        if hit is None or hit[0] != fps:
            return None
        try:
            path = hit[1].result()
        except Exception:  # noqa: BLE001 - encoded again by the caller, which reports the error
            return None
        self.used += 1
        return path


_KEY = os.urandom(32)  # this process's: a clip file is read back by the pass that wrote it
_DIGEST = hashlib.sha256().digest_size


def load_clip(path: str, source, span, n_in_source: int):
    """The speculative clip task pickled at ``path`` by :func:`dump_clip` in this process,
    given the final ``source`` record (:class:`schemas.SourceInfo`), ``span`` and clip
    count of its source. The file is unpickled only when its HMAC-SHA256 under this
    process's key holds: bytes that another process wrote or changed in the scratch folder
    are never unpickled (ValueError)."""
    with open(path, "rb") as f:
        blob = f.read()
    mac, data = blob[:_DIGEST], blob[_DIGEST:]
    if not hmac.compare_digest(mac, hmac.new(_KEY, data, hashlib.sha256).digest()):
        raise ValueError(f"{path}: not a clip task this pass wrote")
    clip = pickle.loads(data)  # noqa: S301 - authenticated above: this process's own bytes
    clip.source, clip.span, clip.n_in_source = source, span, n_in_source
    clip.record = clip.record.model_copy(update={"source": source, "span": span})
    if clip.reject_row is not None:  # a fused stage (e.g. filter) dropped it: the final span too
        clip.reject_row = clip.reject_row.model_copy(update={"span": span})
    return clip


def dump_clip(clip, out: str) -> str:
    """Pickle a speculative clip task into folder ``out``, behind its HMAC under this
    process's key (:func:`load_clip`); returns the file's path."""
    data = pickle.dumps(clip, protocol=pickle.HIGHEST_PROTOCOL)
    path = os.path.join(out, "clip.pkl")
    with open(path, "wb") as f:
        f.write(hmac.new(_KEY, data, hashlib.sha256).digest() + data)
    return path
