"""The real ``vidcurate run`` stopped before its end leaves no process: SIGTERM or Ctrl-C
while a local Ray starts, while the head start runs and during the sources phase (exit
143 or 130, its message, nothing written after the exit), and ``run --help``'s exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _two_sources(tmp_path, frames: int):
    """``tmp_path/in`` with two panning videos of ``frames`` frames (320x240, 25 fps)."""
    from support.synth import render, write_video

    src = tmp_path / "in"
    src.mkdir()
    loop = [render(49, k / 25, 320, 240, pan=(0.06, 0.0)) for k in range(100)]
    for i in range(2):
        write_video(str(src / f"long{i}.mp4"), (loop[(k + 7 * i) % 100] for k in range(frames)))
    return src


def _run_until(tmp_path, src, log, start: str, group: bool, line: str, settle_s: float, preexec=None):
    """``vidcurate run`` (the CLI, a child process; ``ray.start: start``; a session of its
    own when ``group``; ``preexec`` run in the child before it starts) over ``src`` into
    ``tmp_path/out``, its output in ``log``, left to run until ``line`` shows there (at
    most 120 s) and ``settle_s`` more. Returns the process and the ids of the processes it
    has started by then."""
    import time

    import psutil

    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(REPO))
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", _pipeline(tmp_path, start),
                                 "--input", str(src), "--output", str(tmp_path / "out")], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=group,
                                preexec_fn=preexec)
    deadline = time.time() + 120
    while line not in log.read_text() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(settle_s)
    return proc, [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]


def _left_running(pids: list[int], wait_s: float = 15.0) -> list[str]:
    """Command lines of ``pids`` still running (not zombies) after up to ``wait_s`` seconds."""
    import time

    import psutil

    def running() -> dict[int, str]:
        out = {}
        for p in pids:
            try:
                proc = psutil.Process(p)
                if proc.status() != psutil.STATUS_ZOMBIE:
                    out[p] = " ".join(proc.cmdline())[:80]
            except psutil.Error:  # gone meanwhile
                continue
        return out

    deadline = time.time() + wait_s
    while running() and time.time() < deadline:
        time.sleep(0.2)
    return list(running().values())


def _pipeline(tmp_path, start: str) -> str:
    """pipelines/local.yaml with ``ray.start: start`` (``always``: a local Ray of the run's
    own; ``when_needed``, the shipped setting: none for its plain CPU steps)."""
    import yaml

    data = yaml.safe_load((REPO / "pipelines" / "local.yaml").read_text())
    data["ray"]["start"] = start
    path = tmp_path / f"local_{start}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def _signal_while_ray_starts(tmp_path, sig: int, group: bool) -> tuple[int, str, list[int], list[str]]:
    """The real CLI on four small sources, in its own session (a terminal's foreground job):
    ``sig`` 1.5 s into "starting Ray", to its process group (a Ctrl-C) or to the command
    alone (``kill PID``). Returns its exit code, its output, the processes it had started
    and those of them still running afterwards."""
    from support.synth import Shot, shots_video

    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        shots_video(str(src / f"v{i}.mp4"), [Shot(20 + i, 40), Shot(30 + i, 40)], 192, 144)
    log = tmp_path / "log.txt"
    proc, started = _run_until(tmp_path, src, log, "always", True, "starting Ray", 1.5)
    (os.killpg if group else os.kill)(proc.pid, sig)
    code = proc.wait(120)
    return code, log.read_text(), started, _left_running(started)


def test_ctrl_c_while_a_local_ray_starts_exits_130_and_leaves_no_process(tmp_path):
    """Ctrl-C 1.5 s into "starting Ray". Before, Ray's dashboard and runtime-env agents
    outlived the run by about a minute and some tries ended in a segmentation fault (exit 139)."""
    import signal

    code, text, started, alive = _signal_while_ray_starts(tmp_path, signal.SIGINT, group=True)
    assert code == 130, text[-3000:]
    assert text.strip().splitlines()[-1].startswith("interrupted:") and "Traceback" not in text
    assert started and not alive, f"left running: {alive}"


@pytest.mark.parametrize("start,group", [("always", False), ("when_needed", False), ("when_needed", True)])
def test_sigterm_during_the_sources_phase_exits_143_and_leaves_no_process(tmp_path, start, group):
    """``kill PID`` mid-run stops the run as a Ctrl-C does, on a local Ray or without one
    (``ray.start``); a Ctrl-C (SIGINT to the process group) mid-run without Ray exits 130
    the same way. Before, Ray's own handler exited at once and its core worker aborted
    (exit 134, a crash dump)."""
    import signal

    src = _two_sources(tmp_path, 4000)
    log = tmp_path / "log.txt"
    proc, started = _run_until(tmp_path, src, log, start, group, "sources: 0/", 0.5)
    if group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(120) == (130 if group else 143), log.read_text()[-3000:]
    last = log.read_text().strip().splitlines()[-1]
    assert last.startswith("interrupted:" if group else "terminated (SIGTERM)"), last
    assert not list((tmp_path / "out").glob("work/sources/*.json"))  # both sources were in hand
    alive = _left_running(started)
    assert started and not alive, f"left running: {alive}"


def test_sigterm_while_a_local_ray_starts_exits_143_and_leaves_no_process(tmp_path):
    """``kill PID`` 1.5 s into "starting Ray": held back like a Ctrl-C, then the run stops
    as after a SIGTERM mid-run. Before, ray.init's own handler exited at once: exit 15, no
    message, and Ray's dashboard and runtime-env agents orphaned for about a minute."""
    import signal

    code, text, started, alive = _signal_while_ray_starts(tmp_path, signal.SIGTERM, group=False)
    assert code == 143, text[-3000:]
    assert text.strip().splitlines()[-1].startswith("terminated (SIGTERM)") and "Traceback" not in text
    assert started and not alive, f"left running: {alive}"


@pytest.mark.parametrize("start", ["always", "when_needed"])
def test_sigterm_while_the_head_start_runs_before_ray_exits_143_and_nothing_writes_after(tmp_path, start):
    """``kill PID`` as soon as the inputs are scanned: the head start's sandbox child is
    decoding while the driver still imports Ray (``always``; without Ray, while the local
    passes begin). The run stops as after a Ctrl-C (exit
    143, its message, no process left) and nothing lands in the output after the exit.
    Before, the driver died at once (killed by the signal) and its orphaned child wrote a
    clip into the output, then a BrokenPipeError traceback."""
    import signal
    import time

    import psutil

    from support.synth import Shot, shots_video

    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        shots_video(str(src / f"v{i}.mp4"), [Shot(20 + i, 60), Shot(30 + i, 60)], 320, 240)
    log, out_dir = tmp_path / "log.txt", tmp_path / "out"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(REPO))
    env.pop("RAY_ADDRESS", None)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", _pipeline(tmp_path, start),
                                 "--input", str(src), "--output", str(out_dir)], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while "scanning inputs: done" not in log.read_text() and time.time() < deadline:
        time.sleep(0.01)
    started = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(120)
    ended = time.time()
    text = log.read_text()
    assert code == 143, text[-3000:]
    assert text.strip().splitlines()[-1].startswith("terminated") and "Traceback" not in text
    assert started and not _left_running(started), "the head start's child was left running"
    late = [p for p in out_dir.rglob("*") if p.is_file() and p.stat().st_mtime > ended]
    assert not late, f"written after the command ended: {late}"
    assert "Traceback" not in log.read_text()  # nothing from an orphan either


def test_run_help_leaves_no_spare_sandbox(monkeypatch, capsys):
    """``run --help`` (and bad arguments) end in argparse's exit: the spare sandbox child
    started for a run goes with it, not later on its own."""
    from curate import guard
    from pipelines.cli import main

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    guard.close_all()
    with pytest.raises(SystemExit) as done:
        main(["run", "--help"])
    assert done.value.code == 0 and "--output" in capsys.readouterr().out
    assert guard._SANDBOXES == {}


def test_a_run_that_inherits_an_ignored_ctrl_c_keeps_ignoring_it(tmp_path):
    """A background job of a non-interactive shell (``vidcurate run ... &`` in a script)
    starts with SIGINT ignored; a Ctrl-C to the script's process group must not stop it
    (README, exit 130). Before, the run's own handler replaced the ignore: exit 130."""
    import signal

    log = tmp_path / "log.txt"
    proc, _ = _run_until(tmp_path, _two_sources(tmp_path, 150), log, "when_needed", True, "sources: 0/", 0.0,
                         preexec=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(300) == 0, log.read_text()[-3000:]
    assert "interrupt" not in log.read_text()
    assert len(list((tmp_path / "out").glob("work/sources/*.json"))) == 2
