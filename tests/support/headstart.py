"""A stand-in for :class:`pipelines.rows.PassSteps` in the head start's and local passes' tests."""

from __future__ import annotations

import time

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


