"""A background thread that samples something every ``period_s`` while a block runs."""

from __future__ import annotations

import threading


class Sampler:
    """Context manager: calls ``self.tick()`` every ``period_s`` seconds on a daemon thread
    from ``__enter__`` until ``__exit__`` (subclasses define ``tick``; used by the bench's
    memory and CPU accounts)."""

    def __init__(self, period_s: float):
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def tick(self) -> None:
        """One sample (subclasses)."""
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self.tick()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
