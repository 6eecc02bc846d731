"""A run stopped in its sources phase counts on its stop line every source it kept.

A new-user trial: ``kill PID`` during a run printed ``sources: 19/24 stopped``, and the
same command then said 21 sources were already done by an earlier run: sources that the
head start's passes finished between the signal and the end of the run were committed
after the stop line, kept, and never counted."""

from __future__ import annotations

import io
import threading

import pytest
from rich.console import Console

from pipelines.progress import Progress
from pipelines.runner import Runner
from support.pipelines import make_pipeline


class _Head:
    """A head start whose passes deliver source ``a`` at the first wait; at the second a
    signal comes (KeyboardInterrupt) while its thread is about to deliver source ``b``."""

    started_at = None

    def __init__(self, deliver, paths):
        self.deliver, self.paths, self.waits, self.late = deliver, paths, 0, None

    def wait(self, timeout: float) -> bool:
        self.waits += 1
        if self.waits == 1:
            self.deliver(self.paths[0], [])
            return False
        self.late = threading.Timer(0.2, self.deliver, (self.paths[1], []))
        self.late.start()
        raise KeyboardInterrupt

    def join(self) -> None:
        raise AssertionError("not reached")


def test_no_source_is_kept_after_the_stop_line_that_counts_them(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    paths = [str(src / f"{name}.mp4") for name in "abc"]
    for p in paths:
        open(p, "wb").close()
    runner = Runner(make_pipeline(), [str(src)], str(tmp_path / "out"))
    buf = io.StringIO()
    runner.progress = runner.commits.progress = Progress(console=Console(file=buf, width=200), interval_s=1e9)
    head = _Head(runner.commits.deliver, paths)
    with pytest.raises(KeyboardInterrupt):
        runner._source_phase([], head, total=3)
    head.late.join()
    kept = [p for p in paths if runner.store.done(p)]
    assert buf.getvalue().splitlines()[-1].startswith(f"sources: {len(kept)}/3 stopped after")
    assert kept == [paths[0]]
