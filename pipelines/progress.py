"""Progress display for a run: start-up steps, one bar per phase, a line per finished source.

On a terminal (rich): a spinner while a start-up step runs (scanning inputs, starting
or joining Ray: about 20 s with nothing else to show), then one live bar per phase with a
line per finished source above it. When the output is not a terminal (a log file, CI, a
pipe), no bar is drawn: each step prints a line when it starts and when it ends, and each
phase prints plain progress lines (done/total, elapsed seconds, rate, time left) at most
every ``interval_s`` seconds, plus one when it starts and one when it ends, between the
per-source lines, so a log shows the run moving instead of one bar at the end.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import rich.progress
import rich.text
from rich.console import Console


@dataclass
class _Plain:
    total: int
    t0: float
    done: int = 0
    last_print: float = 0.0
    weights: dict[str, float] | None = None  # step key -> its share of the work (see start)
    done_weight: float = 0.0


class Progress:
    """Progress keyed by phase name; a no-op when ``enabled`` is false.

    ``console``: where to print (default: stderr); ``interval_s``: seconds between plain
    progress lines when the console is not a terminal; ``clock``: a monotonic clock in
    seconds (tests pass a fake one).
    """

    def __init__(self, enabled: bool = True, console: Console | None = None, interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.plain = not self.console.is_terminal
        self.interval_s, self.clock = interval_s, clock
        self._bars: dict[str, tuple[rich.progress.Progress, rich.progress.TaskID]] = {}
        self._plain: dict[str, _Plain] = {}

    @contextlib.contextmanager
    def step(self, message: str) -> Iterator[None]:
        """Say that ``message`` (e.g. ``starting Ray``) is under way until the block ends,
        then how long it took. A spinner on a terminal; two plain lines otherwise."""
        if not self.enabled:
            yield
            return
        t0 = self.clock()
        if self.plain:
            self.console.print(f"{message} ...", highlight=False, markup=False)
            yield
        else:
            with self.console.status(rich.text.Text(f"{message} ...")):
                yield
        self.console.print(f"{message}: done in {self.clock() - t0:.1f} s", highlight=False, markup=False)

    def note(self, message: str) -> None:
        """Print one line about the run (e.g. how many sources an earlier run did), as
        written (no markup); nothing when the display is off (``--quiet``)."""
        if self.enabled:
            self.console.print(message, highlight=False, markup=False)

    def start(self, phase: str, total: int, since: float | None = None,
              weights: dict[str, float] | None = None) -> None:
        """Show progress of ``phase`` with ``total`` steps; ``since``: when its work began
        (a ``clock()`` time, e.g. sources taken while Ray started), default now. Its
        rate and time use it, so steps done before the display start do not read as
        done in no time. ``weights``: each step's share of the work by the key
        :meth:`advance` is given (e.g. a source's file size): the time left is then the
        weight left at the rate weight has been done, not the steps left at the step rate
        (sources run largest first, so early step rates had put it several times too high)."""
        if not self.enabled:
            return
        if self.plain:
            now = self.clock()
            self._plain[phase] = _Plain(total, now if since is None else min(since, now), last_print=now,
                                        weights=dict(weights) if weights else None)
            self.console.print(f"{phase}: 0/{total}", highlight=False)
            return
        bar = rich.progress.Progress(
            rich.progress.TextColumn("[bold]{task.description}"), rich.progress.BarColumn(),
            rich.progress.MofNCompleteColumn(), rich.progress.TimeElapsedColumn(),
            console=self.console, transient=False)
        bar.start()
        task = bar.add_task(phase, total=total)
        if since is not None:  # the elapsed column counts from when the work began
            for t in bar.tasks:
                if t.id == task and t.start_time is not None:
                    t.start_time = min(t.start_time, since)
        self._bars[phase] = (bar, task)

    def advance(self, phase: str, message: str | None = None, key: str | None = None) -> None:
        """One step of ``phase`` done; ``message`` is printed (above the bar on a terminal);
        ``key``: the step's key in the ``weights`` given to :meth:`start`."""
        if not self.enabled:
            return
        if phase in self._plain:
            state = self._plain[phase]
            state.done += 1
            if state.weights is not None:
                state.done_weight += state.weights.get(key, 0.0)
            if message:
                self.console.print(f"  {message}", highlight=False, soft_wrap=True, markup=False)  # file names: [x] is no style
            if self.clock() - state.last_print >= self.interval_s:
                self._plain_line(phase, state)
            return
        if phase not in self._bars:
            return
        bar, task = self._bars[phase]
        if message:
            bar.console.print(f"  {message}", highlight=False, markup=False)
        bar.advance(task)

    def _plain_line(self, phase: str, state: _Plain) -> None:
        now = self.clock()
        state.last_print = now
        elapsed = now - state.t0
        rate = state.done / elapsed if elapsed > 0 else 0.0
        todo = state.total - state.done
        left = ""
        if state.weights is not None and state.done_weight > 0 and elapsed > 0 and todo > 0:
            rest = max(0.0, sum(state.weights.values()) - state.done_weight)
            left = f", about {rest / (state.done_weight / elapsed):.0f} s left"
        elif rate > 0 and todo > 0:
            left = f", about {todo / rate:.0f} s left"
        pct = 100 * state.done / state.total if state.total else 100.0
        self.console.print(f"{phase}: {state.done}/{state.total} ({pct:.0f}%) in {elapsed:.0f} s, "
                           f"{rate:.2f}/s{left}", highlight=False, soft_wrap=True)

    def stop(self, phase: str) -> None:
        """Close the progress of ``phase`` (a plain mode prints its final line: ``done`` when
        every step was, else ``stopped``, so the log of an interrupted run does not read as
        finished)."""
        if phase in self._plain:
            state = self._plain.pop(phase)
            end = "done in" if state.done >= state.total else "stopped after"
            self.console.print(f"{phase}: {state.done}/{state.total} {end} {self.clock() - state.t0:.1f} s",
                               highlight=False)
        if phase in self._bars:
            bar, _ = self._bars.pop(phase)
            bar.stop()


def process_started_at() -> float:
    """``time.time()`` at which this process started (Linux ``/proc``: the process start
    in clock ticks since boot against ``/proc/uptime``; now elsewhere), so a command's
    wall time includes its imports and start-up."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return time.time() - max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return time.time()
