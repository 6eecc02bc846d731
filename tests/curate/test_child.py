"""Sandbox children's temporary files: a folder of each child's own, gone once the child has ended."""

import os
import tempfile
import threading
import time

import pytest

from curate import guard
from curate.guard import Cancelled, LimitExceeded, Limits, run_limited
from support import guarded


def _wait_for(path, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, "the call never started"
        time.sleep(0.05)
    return path.read_text()


def test_a_child_works_in_a_folder_of_its_own_removed_when_it_is_stopped():
    folder = run_limited(guarded.temp_folder, None, Limits(memory_mb=272))
    assert os.path.basename(folder).startswith("vidcurate-sandbox-")
    assert os.path.dirname(folder) == tempfile.gettempdir() and os.path.isdir(folder)
    assert run_limited(guarded.temp_folder, None, Limits(memory_mb=272)) == folder  # the same child, same folder
    guard.close_all()
    assert not os.path.exists(folder)


def test_a_child_killed_at_its_time_limit_leaves_no_spill_behind(tmp_path):
    marker = tmp_path / "spill"
    with pytest.raises(LimitExceeded, match="no result within 2 s"):
        run_limited(guarded.spill_then_sleep, str(marker), Limits(timeout_s=2, memory_mb=280, retries=0))
    spill = marker.read_text()
    assert spill.endswith("frames.yuv") and os.path.basename(os.path.dirname(spill)).startswith("vidcurate-onepass-")
    assert not os.path.exists(spill) and not os.path.exists(os.path.dirname(os.path.dirname(spill)))


def test_a_cancelled_run_leaves_no_spill_behind(tmp_path):
    """A Ctrl-C during local passes: the thread's child is killed mid-call and its folder goes."""
    marker, raised = tmp_path / "spill", []

    def one_pass():
        with guard.own_children():
            try:
                run_limited(guarded.spill_then_sleep, str(marker), Limits(memory_mb=288, retries=1))
            except Cancelled as exc:
                raised.append(exc)

    thread = threading.Thread(target=one_pass)
    thread.start()
    spill = _wait_for(marker)
    assert os.path.getsize(spill) == 1 << 20
    with guard.cancelled():
        thread.join(30)
    assert not thread.is_alive() and len(raised) == 1
    assert not os.path.exists(os.path.dirname(os.path.dirname(spill)))


def test_a_parent_gone_without_clean_up_leaves_the_folder_to_its_child(tmp_path):
    """A Ray worker killed at shutdown never runs its exit handlers: its sandbox child
    finds the socket closed and removes its own folder as it exits."""
    import subprocess
    import sys

    script = ("import os, sys\n"
              "from curate.guard import Limits, run_limited\n"
              "from support import guarded\n"
              "print(run_limited(guarded.temp_folder, None, Limits(memory_mb=296)), flush=True)\n"
              "os._exit(0)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    folder = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                            check=True, timeout=120).stdout.strip()
    assert os.path.basename(folder).startswith("vidcurate-sandbox-")
    deadline = time.monotonic() + 30
    while os.path.exists(folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(folder)
