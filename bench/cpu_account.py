"""CPU seconds of a process tree, by kind of process (issue 10: where the time goes).

:class:`CpuAccount` samples ``/proc`` while a command runs and adds up the user + system
CPU seconds of every process descended from a root process (the bench itself, so the
command and everything it starts: Ray's processes, its workers, their sandbox
children). Each process is put under one kind:

- ``passes``: sandbox children (``python -m curate.sandbox``), the per-source probe and
  one-decode passes (decode, detection, encoding, scores);
- ``ray workers``: Ray worker processes (``ray::...`` / ``default_worker.py``): Ray Data
  tasks and actors, and handing clip rows on;
- ``driver``: the command's own process (imports, planning, dedup, shards, report);
- ``ray system``: everything else Ray starts (GCS, raylet, dashboard and runtime-env
  agents, log monitor, autoscaler monitor);
- ``other``: processes outside those (the floor's process pool, ffmpeg).

Linux only. A process's last ``period_s`` before it exits is not seen (a few percent at
the default 0.1 s on short-lived processes).
"""

from __future__ import annotations

import os

from sampler import Sampler

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of ``pid`` from ``/proc/<pid>/stat``; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _all_stats() -> dict[int, tuple[int, float]]:
    """``{pid: (parent pid, CPU seconds)}`` of every process now."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) is not None:
            stats[int(name)] = st
    return stats


def kind_of(cmdline: str, is_driver: bool) -> str:
    """The kind (module docstring) of a process with this command line."""
    if "curate.sandbox" in cmdline:
        return "passes"
    if cmdline.startswith("ray::") or "default_worker.py" in cmdline:
        return "ray workers"
    if is_driver:
        return "driver"
    if "/ray/" in cmdline or "raylet" in cmdline or "gcs_server" in cmdline:
        return "ray system"
    return "other"


class CpuAccount(Sampler):
    """Context manager: CPU seconds per kind of process below ``root`` (default: this
    process) started inside the block (all their CPU counts; processes already below
    ``root``, such as a Ray an earlier test started, are left out) while the block runs;
    ``driver_name``: the program name (first or second word of its command line, after the
    interpreter) of the command's own process, a child of ``root``. ``seconds()`` returns
    ``{kind: CPU seconds}``."""

    def __init__(self, root: int | None = None, driver_name: str = "vidcurate", period_s: float = 0.1):
        super().__init__(period_s)
        self.root, self.driver_name = root or os.getpid(), driver_name
        self._cpu: dict[int, float] = {}
        self._kind: dict[int, str] = {}
        self._before: set[int] = set()  # below root before the block: not counted

    def __enter__(self):
        stats = _all_stats()
        self._before = {pid for pid in stats if self._below(pid, stats)}
        return super().__enter__()

    def tick(self) -> None:
        """Read every process's CPU seconds; note the new ones below ``root``."""
        stats = _all_stats()
        for pid, (ppid, cpu) in stats.items():
            if pid == self.root or pid in self._before or pid not in self._kind and not self._below(pid, stats):
                continue
            if pid not in self._kind:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                is_driver = ppid == self.root and any(os.path.basename(t) == self.driver_name
                                                      for t in cmd.split()[:2])
                self._kind[pid] = kind_of(cmd, is_driver)
            self._cpu[pid] = max(self._cpu.get(pid, 0.0), cpu)

    def _below(self, pid: int, stats: dict) -> bool:
        seen = set()
        while pid in stats and pid not in seen:
            seen.add(pid)
            pid = stats[pid][0]
            if pid == self.root:
                return True
        return False

    def seconds(self) -> dict[str, float]:
        """CPU seconds per kind, summed over the processes seen."""
        out: dict[str, float] = {}
        for pid, kind in self._kind.items():
            out[kind] = out.get(kind, 0.0) + self._cpu[pid]
        return out
