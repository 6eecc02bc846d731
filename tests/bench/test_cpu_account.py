"""bench/cpu_account.py: CPU seconds of a process tree by kind (issue 10's breakdown)."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))

from cpu_account import CpuAccount, kind_of  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")

_BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n"


def test_kinds_from_command_lines():
    assert kind_of("/venv/bin/python -m curate.sandbox 40 4096", False) == "passes"
    assert kind_of("ray::Map(_Apply)->FlatMap(SplitExtract)", False) == "ray workers"
    assert kind_of("/venv/bin/python /venv/lib/python3.11/site-packages/ray/_private/workers/default_worker.py "
                   "--node-ip-address=1", False) == "ray workers"
    assert kind_of("/venv/lib/python3.11/site-packages/ray/core/src/ray/raylet/raylet --x", False) == "ray system"
    assert kind_of("/venv/bin/python /venv/bin/vidcurate run p.yaml", True) == "driver"
    assert kind_of("ffmpeg -i a.mp4 b.mp4", False) == "other"


def test_counts_a_child_and_a_grandchild_by_kind(tmp_path):
    # the child (named "vidcurate" as the driver) burns 0.6 s of CPU and starts a
    # grandchild that burns 0.4 s: both are below this process, so both are counted
    child = _BURN.format(s=0.6) + (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {_BURN.format(s=0.4)!r}], check=True)\n")
    script = tmp_path / "vidcurate"
    script.write_text(child)
    with CpuAccount(period_s=0.05) as account:
        subprocess.run([sys.executable, str(script)], check=True)
    seconds = account.seconds()
    assert 0.55 <= seconds["driver"] <= 1.0
    assert 0.35 <= seconds["other"] <= 0.8
    assert set(seconds) == {"driver", "other"}


def test_processes_already_running_are_left_out(tmp_path):
    # a Ray an earlier test started stays below the test process: a process that was
    # there before the block burns 1.5 s during it and must not count
    earlier = subprocess.Popen([sys.executable, "-c", "import time\ntime.sleep(0.3)\n" + _BURN.format(s=1.5)])
    try:
        script = tmp_path / "vidcurate"
        script.write_text(_BURN.format(s=0.6))
        with CpuAccount(period_s=0.05) as account:
            subprocess.run([sys.executable, str(script)], check=True)
            earlier.wait()
        assert set(account.seconds()) == {"driver"} and 0.55 <= account.seconds()["driver"] <= 1.0
    finally:
        earlier.kill()
        earlier.wait()
