"""The real ``vidcurate run`` under a pseudo-terminal, with an ``ffmpeg`` on PATH that reads stdin.

PySceneDetect runs ``ffmpeg -v quiet`` when it is imported (in every Ray worker). Before
the fix, that child inherited the terminal as stdin from a background process group,
was stopped by SIGTTIN, and the run hung at ``sources 0/N``. The fake ``ffmpeg`` here
reads a line from stdin, so it blocks or stops exactly like that if any of our
processes hands it the terminal; it also records what its stdin was, so the test knows
the probe really ran.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time

import pyarrow.parquet as pq

from support.pipelines import LOCAL_YAML
from support.synth import Shot, shots_video

FAKE_FFMPEG = """#!/bin/sh
echo "$(readlink /proc/$$/fd/0)" >> "{log}"
read line
exit 0
"""


def _run_in_pty(argv: list[str], env: dict, deadline_s: float) -> tuple[int | None, str]:
    """Run ``argv`` as the session leader of a new pseudo-terminal; (exit code or None if
    still running at the deadline, everything it printed)."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is its controlling terminal and stdin/stdout/stderr
        os.execve(argv[0], argv, env)
    out, end = bytearray(), time.monotonic() + deadline_s
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), out.decode(errors="replace")
    else:
        os.killpg(pid, signal.SIGKILL)  # a hang: take the run and its Ray down with it
        os.waitpid(pid, 0)
        os.close(fd)
        return None, out.decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def _two_shot_input_and_fake_ffmpeg(tmp_path, fake: str) -> tuple:
    """A folder with one two-shot video, and an environment whose PATH starts with the
    ``fake`` ffmpeg script (it logs to the returned file). Returns (folder, log, env)."""
    src = tmp_path / "in"
    src.mkdir()
    shots_video(str(src / "a.mp4"), [Shot(41, 40), Shot(42, 40)], 160, 120)
    bindir, log = tmp_path / "bin", tmp_path / "ffmpeg-stdin.log"
    bindir.mkdir()
    (bindir / "ffmpeg").write_text(fake.format(log=log))
    (bindir / "ffmpeg").chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", RAY_USAGE_STATS_ENABLED="0",
               TERM="xterm")
    return src, log, env


def test_run_under_a_terminal_finishes_and_no_child_reads_it(tmp_path):
    src, log, env = _two_shot_input_and_fake_ffmpeg(tmp_path, FAKE_FFMPEG)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "pipelines.cli", "run", LOCAL_YAML, "--input", str(src),
            "--output", str(out)]
    code, text = _run_in_pty(argv, env, deadline_s=480)
    assert code is not None, f"vidcurate run hung under a terminal; it printed:\n{text[-3000:]}"
    assert code == 0, text[-3000:]
    assert pq.read_table(out / "index.parquet").num_rows == 2
    probes = log.read_text().split()
    assert probes, "the fake ffmpeg never ran: PySceneDetect's probe was not exercised"
    assert set(probes) == {"/dev/null"}, probes


# Like FAKE_FFMPEG, but a process in the terminal's foreground group (the interactive
# caller itself) may use the terminal: only a background process that touches it is
# stopped (SIGTTIN/SIGTTOU), so only those block here. Each line: stdin, fg or bg.
FAKE_FFMPEG_FG_OK = """#!/bin/sh
set -- $(cat /proc/$$/stat | sed 's/.*) //')
where=bg; [ "$3" = "$6" ] && where=fg
echo "$(readlink /proc/$$/fd/0) $where" >> "{log}"
[ "$where" = bg ] && read line
exit 0
"""

LIBRARY_RUN = """
import os, sys
from pipelines.config import load_pipeline
from pipelines.runner import run_pipeline
before = os.readlink("/proc/self/fd/0")
run_pipeline(load_pipeline({yaml!r}), [{src!r}], {out!r}, progress=False)
print("stdin before", before, "after", os.readlink("/proc/self/fd/0"))
"""


def test_library_run_from_a_terminal_starts_ray_off_it_and_gives_the_terminal_back(tmp_path):
    """``run_pipeline`` from an interactive Python (no CLI to detach stdin): the local Ray
    it starts must not inherit the terminal, and the caller keeps its terminal."""
    src, log, env = _two_shot_input_and_fake_ffmpeg(tmp_path, FAKE_FFMPEG_FG_OK)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    # Ray's workers must do the per-source work (importing PySceneDetect runs ffmpeg):
    # with the head start the driver would take the only source itself
    yaml = tmp_path / "local.yaml"
    with open(LOCAL_YAML, encoding="utf-8") as f:
        yaml.write_text(f.read().replace("head_start: true", "head_start: false", 1))
    script = tmp_path / "run.py"
    script.write_text(LIBRARY_RUN.format(yaml=str(yaml), src=str(src), out=str(tmp_path / "out")))
    code, text = _run_in_pty([sys.executable, str(script)], env, deadline_s=180)
    assert code is not None, f"run_pipeline hung under a terminal; it printed:\n{text[-3000:]}"
    assert code == 0, text[-3000:]
    assert pq.read_table(tmp_path / "out" / "index.parquet").num_rows == 2
    line = [ln for ln in text.splitlines() if ln.startswith("stdin before")][-1].split()
    assert line[2].startswith("/dev/pts/") and line[4] == line[2], line  # its terminal, before and after
    probes = [ln.split() for ln in log.read_text().splitlines()]
    workers = [stdin for stdin, where in probes if where == "bg"]
    assert workers, f"no Ray worker ran the fake ffmpeg: {probes}"
    assert set(workers) == {"/dev/null"}, probes


def test_stdin_guards_work_when_stdin_is_closed():
    """A caller started with fd 0 closed (``<&-``, some daemons) gets ``/dev/null`` there
    inside the block and keeps it after, and so do the processes it starts (a raylet, its
    workers): before, they started with fd 0 closed and took it for their first eventfd.
    Neither guard fails."""
    import subprocess

    child = "import os; print(os.readlink('/proc/self/fd/0') if os.path.exists('/proc/self/fd/0') else 'closed')"
    code = ("import os, subprocess, sys; from pipelines.terminal import detach_stdin, stdin_detached, stdin_is_detached\n"
            "with stdin_detached(): inside = stdin_is_detached()\n"
            f"started = subprocess.run([sys.executable, '-c', {child!r}], capture_output=True, text=True).stdout.strip()\n"
            "print(inside, stdin_is_detached(), detach_stdin(), stdin_is_detached(), started)")
    for guard in ("", "from pipelines.terminal import detach_stdin; detach_stdin()\n"):
        out = subprocess.run(["bash", "-c", f'exec "{sys.executable}" -c "$0" <&-', guard + code], capture_output=True,
                             text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["True", "True", "False", "True", os.devnull]


def test_ctrl_c_under_a_terminal_ends_with_the_resume_advice(tmp_path):
    """Ctrl-C typed at the terminal during the per-source phase: exit 130, and the advice
    is the last thing on the screen (the progress bar had been drawn again after it)."""
    import re

    src = tmp_path / "in"
    src.mkdir()
    for k in range(10):
        shots_video(str(src / f"v{k}.mp4"), [Shot(50 + k, 100), Shot(60 + k, 100)], 160, 120)
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", TERM="xterm")
    argv = [sys.executable, "-m", "pipelines.cli", "run", LOCAL_YAML, "--input", str(src), "--output",
            str(tmp_path / "out")]
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(argv[0], argv, env)
    out, sent, end, status = bytearray(), False, time.monotonic() + 300, None
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
        if not sent and b"made," in out:  # a source committed
            os.write(fd, b"\x03")  # the terminal turns it into SIGINT for the foreground group
            sent = True
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.killpg(pid, signal.SIGKILL)
    if status is None or not done:
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode(errors="replace")).replace("\r", "\n")
    lines = [line for line in text.split("\n") if line.strip()]
    assert sent, text[-2000:]
    assert os.waitstatus_to_exitcode(status) == 130, text[-2000:]
    assert lines[-1].startswith("interrupted: committed sources are kept"), lines[-3:]


def test_an_interrupt_while_a_spinner_starts_leaves_the_cursor_shown(monkeypatch):
    """A break test: Ctrl-C just as a progress step began ("writing report.html") left the
    terminal's cursor hidden (the spinner had hidden it, and its exit never ran). Whatever
    hid it, an interrupted or terminated command shows it again."""
    import pipelines.cli as cli
    from pipelines import exits

    for raised, code in ((KeyboardInterrupt, exits.INTERRUPTED), (exits.Terminated, exits.TERMINATED)):
        master, slave = pty.openpty()
        term = os.fdopen(slave, "w")

        def spinner_starts(args, raised=raised):
            term.write("\x1b[?25l")  # what rich's Live writes as it starts
            term.flush()
            raise raised()

        monkeypatch.setattr(cli, "_cmd_samples", spinner_starts)
        monkeypatch.setattr(sys, "stderr", term)
        try:
            assert cli.main(["samples", "anywhere"]) == code
        finally:
            monkeypatch.setattr(sys, "stderr", sys.__stderr__)
            term.close()
        out = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
        os.close(master)
        assert out.rfind(b"\x1b[?25h") > out.rfind(b"\x1b[?25l") >= 0, out
