"""A stand-in for :class:`pipelines.rows.PassSteps` in the head start's and local passes' tests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from curate.tasks import ClipTask
from pipelines.rows import dumps


class StubSteps:
    """Stands in for PassSteps: each source gives one row after ``delay_s``; ``bad`` raises."""

    def __init__(self, delay_s: float = 0.0, bad: str | None = None):
        self.delay_s, self.bad = delay_s, bad
        self.started: list[str] = []

    def run_local(self, path: str, work_dir: str):
        self.started.append(path)
        if path == self.bad:
            raise RuntimeError(f"bug on {path}")
        time.sleep(self.delay_s)
        yield {"task": dumps(ClipTask(source=None, span=None, clip_id=f"c-{path}", work_dir=work_dir,
                                      source_path=path, n_in_source=1))}




@contextlib.contextmanager
def serving_pool(threads: int, memory_mb: int = 1024) -> Iterator:
    """A local run's pool without sources: a :class:`pipelines.headstart.HeadStart` whose
    ``threads`` threads serve calls at once, each in a sandbox child of its own; closed
    (its children stopped) when the block ends."""
    from curate.guard import Limits
    from pipelines.headstart import HeadStart

    head = HeadStart(StubSteps(), "/w", [], lambda p, t: None, keep_all=True,
                     serve=Limits(timeout_s=300, memory_mb=memory_mb, retries=1)).start().grow(threads)
    try:
        yield head
    finally:
        head.close()
