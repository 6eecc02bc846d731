"""Progress display for a run (rich): one bar per phase, a line per finished source."""

from __future__ import annotations

import rich.progress
from rich.console import Console


class Progress:
    """Rich progress bars keyed by phase name; a no-op when ``enabled`` is false."""

    def __init__(self, enabled: bool = True, console: Console | None = None):
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self._bars: dict[str, tuple[rich.progress.Progress, rich.progress.TaskID]] = {}

    def start(self, phase: str, total: int) -> None:
        """Show a bar for ``phase`` with ``total`` steps."""
        if not self.enabled:
            return
        bar = rich.progress.Progress(
            rich.progress.TextColumn("[bold]{task.description}"), rich.progress.BarColumn(),
            rich.progress.MofNCompleteColumn(), rich.progress.TimeElapsedColumn(),
            console=self.console, transient=False)
        bar.start()
        self._bars[phase] = (bar, bar.add_task(phase, total=total))

    def advance(self, phase: str, message: str | None = None) -> None:
        """One step of ``phase`` done; ``message`` is printed above the bar."""
        if not self.enabled or phase not in self._bars:
            return
        bar, task = self._bars[phase]
        if message:
            bar.console.print(f"  {message}")
        bar.advance(task)

    def stop(self, phase: str) -> None:
        """Close the bar of ``phase``."""
        if phase in self._bars:
            bar, _ = self._bars.pop(phase)
            bar.stop()
