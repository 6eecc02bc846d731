"""The child-process guard when the call is stopped from outside: ``cancelled()`` kills
the children of every thread without a retry, a Ctrl-C at the terminal (even while a
child imports) never reaches a child, and a child whose parent died ends quietly."""

import pytest

from curate.guard import Limits, run_limited
from support import guarded
from support.guarded import _attempts


def _sleeping_call(marker, own: bool = False):
    """A thread whose sandboxed call sleeps 60 s (in a child of its own with ``own``),
    returned once the child is in the call, with the dict its exception will land in."""
    import contextlib
    import threading
    import time

    import curate.guard as guard

    outcome = {}

    def call():
        with guard.own_children() if own else contextlib.nullcontext():
            try:
                run_limited(guarded.sleepy, str(marker), Limits(timeout_s=120, memory_mb=256, retries=1))
            except BaseException as exc:  # noqa: BLE001 - inspected by the test
                outcome["exc"] = exc

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.time() + 60
    while _attempts(marker) < 1 and time.time() < deadline:
        time.sleep(0.05)
    return worker, outcome


def test_cancelled_kills_the_child_and_the_call_in_progress_raises_without_a_retry(tmp_path):
    import time

    import curate.guard as guard

    marker = tmp_path / "attempts"
    worker, outcome = _sleeping_call(marker)
    child = guard._SANDBOXES[256].proc
    t0 = time.time()
    with guard.cancelled():
        worker.join(30)
        with pytest.raises(guard.Cancelled):  # no new child while cancelled
            run_limited(guarded.square, 3, Limits())
    assert not worker.is_alive() and time.time() - t0 < 20  # not the 60 s the call sleeps
    assert isinstance(outcome["exc"], guard.Cancelled)
    assert child.poll() is not None and _attempts(marker) == 1  # killed, and not retried
    assert run_limited(guarded.square, 7, Limits()) == 49  # after the block, work goes on


def test_a_ctrl_c_at_the_terminal_does_not_reach_the_sandbox():
    import os
    import signal
    import time

    import curate.guard as guard

    assert run_limited(guarded.square, 2, Limits(memory_mb=512)) == 4
    child = guard._SANDBOXES[512].proc
    os.kill(child.pid, signal.SIGINT)  # what a Ctrl-C sends to the terminal's process group
    time.sleep(0.5)
    assert child.poll() is None
    assert run_limited(guarded.square, 3, Limits(memory_mb=512)) == 9
    assert guard._SANDBOXES[512].proc is child  # the same child answered


def test_a_ctrl_c_while_the_sandbox_imports_does_not_reach_it(capfd):
    """The child ignores SIGINT before its imports (cv2, PyAV: 1-2 s), not after them: a
    Ctrl-C in that time had printed a KeyboardInterrupt traceback from a child the driver
    starts before Ray. It starts with SIGINT blocked (the interpreter's own start-up, before
    curate.sandbox runs, had printed one too). Seen through /proc: SIGINT is never both
    unblocked and handled, and is ignored while OpenCV is not yet mapped; then SIGINTs
    every 20 ms until it is ready change nothing."""
    import os
    import signal
    import time

    import curate.guard as guard

    guard.close_all()
    guard.prestart(448)
    box = guard._SANDBOXES[448]
    pid, mapped_cv2, reachable = box.proc.pid, None, []
    bit = 1 << (signal.SIGINT - 1)
    deadline = time.time() + 60
    while mapped_cv2 is None and time.time() < deadline:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if line.startswith(("SigIgn:", "SigBlk:")))
        ignored, blocked = (int(fields[k].split()[0], 16) & bit for k in ("SigIgn", "SigBlk"))
        if not (ignored or blocked):  # from its first instruction: blocked, then ignored
            reachable.append(time.time())
        if ignored:
            with open(f"/proc/{pid}/maps") as f:
                mapped_cv2 = "cv2" in f.read()
    assert mapped_cv2 is False, "SIGINT was ignored only after the imports"
    assert not reachable, "a Ctrl-C could reach the child during its interpreter's start-up"
    while not box.conn.poll(0.02):
        os.kill(pid, signal.SIGINT)
    assert run_limited(guarded.pid, None, Limits(memory_mb=448, retries=0)) == pid
    guard.close_all()
    assert box.proc.returncode == 0
    assert "Traceback" not in capfd.readouterr().err


def test_a_child_whose_parent_is_gone_ends_quietly_after_its_call(capfd):
    """A child busy with a call when its parent dies (a driver killed outright) finishes
    the call, finds nobody to answer and exits 0: it had printed a BrokenPipeError
    traceback into the user's terminal."""
    import curate.guard as guard

    box = guard._Sandbox(256)
    assert box._wait_ready() is None
    box.conn.send((guarded.nap, 1.0))
    box.conn.close()  # the parent end goes while the call runs
    assert box.proc.wait(60) == 0
    assert "Traceback" not in capfd.readouterr().err


def test_cancelled_reaches_the_children_of_every_thread(tmp_path):
    import curate.guard as guard

    marker = tmp_path / "attempts"
    worker, outcome = _sleeping_call(marker, own=True)
    assert 256 not in guard._SANDBOXES  # not the process's child
    with guard.cancelled():
        worker.join(30)
    assert not worker.is_alive() and isinstance(outcome["exc"], guard.Cancelled)
    assert _attempts(marker) == 1
