"""bench/pass_account.py: the one-decode pass's CPU by component (issue 10's per-stage figures)."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))

from pass_account import Clock, pass_cpu  # noqa: E402

from curate import onepass  # noqa: E402
from curate.codec import encode  # noqa: E402
from tests.support.synth import Shot, shots_video  # noqa: E402


def _burn(seconds: float) -> None:
    t = time.thread_time()
    while time.thread_time() - t < seconds:
        pass


class _Work:
    def inner(self):
        _burn(0.15)

    def outer(self):
        _burn(0.1)
        self.inner()
        _burn(0.1)


def test_clock_counts_a_nested_call_as_its_own_and_restores():
    clock, original = Clock(), _Work.__dict__["outer"]
    clock.patch(_Work, "outer", "outer")
    clock.patch(_Work, "inner", "inner")
    _Work().outer()
    assert 0.19 <= clock.seconds["outer"] <= 0.3  # 0.2 s of its own, not the 0.15 s inside
    assert 0.14 <= clock.seconds["inner"] <= 0.22
    assert clock.calls == {"outer": 1, "inner": 1}
    clock.restore()
    assert _Work.__dict__["outer"] is original


def test_pass_components_of_a_two_shot_video(tmp_path):
    # two shots of 50 frames at 25 fps (a cut at frame 50): two clips of about 2 s
    path = str(tmp_path / "two.mp4")
    assert shots_video(path, [Shot(1, 50), Shot(2, 50)], 160, 120) == [50]
    clock = Clock()
    total, rows = pass_cpu([path], "local", clock)
    assert rows == 2
    assert clock.calls["score (motion track, sharpness)"] == 2 and clock.calls["probe"] == 1
    assert clock.calls["detection: frame scores"] == 100  # every decoded frame, once
    assert 90 <= clock.calls["x264 encode"] <= 100  # the frames of both clips (frames at the cut trimmed)
    assert 0 < sum(clock.seconds.values()) <= total + 0.05
    assert onepass.iter_frames.__name__ == "iter_frames" and encode.ClipWriter.write.__name__ == "write"  # restored
