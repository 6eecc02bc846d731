"""Local passes (pipelines/headstart.py, ``keep_all``): the driver keeps every source of a
local Ray, one pass per CPU once Ray is up; the progress display and a signal while Ray
starts. The CLI's end-to-end comparison of the modes is in test_headstart.py."""

from __future__ import annotations

import threading
import time

import pytest

from curate.tasks import ClipTask
from pipelines.headstart import HeadStart
from pipelines.rows import dumps
from support.headstart import StubSteps as _Steps


def test_local_passes_take_the_largest_sources_first_and_grow_to_run_sources_at_once():
    """keep_all: largest first; after grow(2) two sources are in hand at once (each waits
    at a barrier for the other), and every source is done by the driver."""
    meet = threading.Barrier(2, timeout=30)

    class Meeting(_Steps):
        def run_local(self, path, work_dir):
            if path in ("mid", "small"):  # the two taken once the head start has grown
                meet.wait()
            yield from super().run_local(path, work_dir)

    got, first = [], threading.Event()
    steps = Meeting()
    head = HeadStart(steps, "/w", ["big", "mid", "small", "tiny"], lambda p, t: got.append(p) or first.set(),
                     keep_all=True).start()
    assert first.wait(10) and got == ["big"]  # one thread while Ray starts
    head.grow(2)
    head.join()
    assert steps.started[0] == "big" and sorted(steps.started) == sorted(got) == ["big", "mid", "small", "tiny"]
    assert not meet.broken


def test_an_error_on_one_local_pass_stops_the_others_taking_sources():
    delivered = []
    steps = _Steps(delay_s=0.3, bad="b")
    head = HeadStart(steps, "/w", ["a", "b", "c", "d", "e"], lambda p, t: delivered.append(p), keep_all=True)
    head.grow(2)
    with pytest.raises(RuntimeError, match="bug on b"):
        head.join()
    assert sorted(steps.started) == ["a", "b"]  # "a" was in hand and ran on; nothing was taken after "b"
    assert sorted(head.stop()) == ["a", "b"] and delivered == ["a"]


def test_sources_of_the_local_passes_show_as_they_finish():
    """The per-source phase reports each source the local passes commit while they run
    (the progress bar had stood still until the last one): "b" starts only once the
    runner has reported "a"."""
    from types import SimpleNamespace

    from pipelines.runner import Runner

    delivered, reported = [], threading.Event()

    class Commits:
        def report(self):
            if delivered == ["a"]:
                reported.set()

    class WaitForReport(_Steps):
        def run_local(self, path, work_dir):
            if path == "b" and not reported.wait(30):
                raise RuntimeError("a was not reported while b waited")
            yield from super().run_local(path, work_dir)

    head = HeadStart(WaitForReport(delay_s=0.3), "/w", ["a", "b", "c"], lambda p, t: delivered.append(p), keep_all=True)
    quiet = SimpleNamespace(start=lambda *a, **k: None, stop=lambda *a: None)
    Runner._source_phase(SimpleNamespace(progress=quiet, commits=Commits()), [], head.start(), 3)
    assert delivered == ["a", "b", "c"] and reported.is_set()


def test_a_signal_while_ray_starts_stops_the_source_in_hand_and_commits_nothing(tmp_path):
    """What the runner does from the signal handler (Runner._halt): the local pass's child
    is killed at once (no retry) and the source in hand, which the pass turns into a
    reject row as it does any failure, is not committed: the next run does it again."""
    from types import SimpleNamespace

    from curate.guard import Limits, run_limited
    from pipelines.commits import SourceCommits
    from pipelines.progress import Progress
    from pipelines.runner import Runner
    from pipelines.workstore import WorkStore
    from support import guarded

    marker = tmp_path / "attempts"

    class Sandboxed(_Steps):
        def run_local(self, path, work_dir):  # as SplitExtract._sandboxed: a failure is the source's reject row
            try:
                run_limited(guarded.sleepy, str(marker), Limits(timeout_s=120, memory_mb=256, retries=1))
            except Exception:  # noqa: BLE001
                yield {"task": dumps(ClipTask(source=None, span=None, clip_id=f"rejected-{path}", work_dir=work_dir,
                                              source_path=path, n_in_source=1))}

    with WorkStore(str(tmp_path / "out"), {"split": {}}) as ws:
        commits = SourceCommits(ws, Progress(enabled=False))
        with commits.closing():
            head = HeadStart(Sandboxed(), ws.root, ["/in/a.mp4"], commits.deliver, keep_all=True).start()
            deadline = time.time() + 60
            while not marker.exists() and time.time() < deadline:  # the child is in the call
                time.sleep(0.05)
            Runner._halt(SimpleNamespace(commits=commits), head)
            head.cancel()  # as the run does once Ray is up
            assert head.wait(30)
        assert not ws.done("/in/a.mp4") and len(marker.read_text()) == 1  # killed once, not retried




def test_cancel_after_a_signal_in_wait_waits_for_the_pass_in_hand():
    """A signal whose handler raises while the main thread waits (the runner's per-source
    loop, ``head.wait(0.25)``): in CPython 3.11 an interrupted ``Thread.join`` marks the
    joined thread stopped though it runs on, and cancel() had returned at once, ending the
    cancellation while the pass still ran (a break test saw it retry its killed child in a
    new one and write clips after the lease was released). cancel() must wait until the
    pass in hand has ended."""
    import os
    import signal

    class Stop(Exception):
        pass

    ended = threading.Event()

    class Slow(_Steps):
        def run_local(self, path, work_dir):
            try:
                yield from super().run_local(path, work_dir)
            finally:
                ended.set()

    def raise_stop(signum, frame):
        raise Stop()

    old = signal.signal(signal.SIGUSR1, raise_stop)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        head = HeadStart(Slow(delay_s=1.5), "/w", ["a"], lambda p, t: None, keep_all=True).start()
        timer.start()
        with pytest.raises(Stop):
            while not head.wait(0.25):
                pass
        assert not ended.is_set()  # the signal came while "a" was in hand
        head.cancel(timeout_s=10)
        assert ended.is_set()  # cancel returned only once the pass had ended
        assert head.wait(0)
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, old)


def test_a_local_run_without_ray_serves_calls_on_its_passes_sandbox_children(tmp_path):
    """Once its sources are done, each thread of a local run's pool runs calls in its own
    sandbox child (not in this process): results in order, the shared arguments before
    each call's own, two children at work; the work's own exception type comes back (an
    OSError is told from a bug, as a Ray task error is); close() ends the threads and
    their children."""
    import os

    import psutil

    from support import guarded
    from support.headstart import serving_pool

    with serving_pool(2) as head:
        out = head.calls(guarded.scaled, [(k,) for k in range(12)], shared=(3,))
        assert [v for v, _ in out] == [3 * k for k in range(12)]
        pids = {p for _, p in out}
        assert os.getpid() not in pids and 1 <= len(pids) <= 2 and head.cpus == 2
        children = {c.pid for c in psutil.Process().children() if "curate.sandbox" in " ".join(c.cmdline())}
        assert pids <= children
        with pytest.raises(FileNotFoundError):
            head.calls(guarded.missing_file, [(str(tmp_path / "none"),), (str(tmp_path / "none2"),)])
        assert head.calls(guarded.scaled, [(1,)], shared=(2,))[0][0] == 2  # the pool serves on after it
    deadline = time.time() + 10
    while time.time() < deadline and any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                                         for p in pids):
        time.sleep(0.1)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    with pytest.raises(RuntimeError, match="serves no calls"):
        head.calls(guarded.scaled, [(1,)], shared=(2,))


def test_cancel_stops_the_calls_in_hand_and_queued_and_nothing_runs_after_it(tmp_path):
    """A Ctrl-C while the pool runs the driver's calls (a break test saw staged shards go on
    growing from 58 to 200 after the lease was released, and a retried call in a new child
    outlive the command): cancel() kills the calls in hand without a retry, cancels the
    queued ones, and returns only once the threads and their children have ended."""
    import psutil

    from support import guarded
    from support.headstart import serving_pool

    outcome = {}
    with serving_pool(2) as head:
        def caller():
            try:
                head.calls(guarded.touch_later, [(str(tmp_path / f"f{k}"), 0.4) for k in range(40)])
                outcome["ok"] = True
            except BaseException as exc:  # noqa: BLE001 - the test looks at it
                outcome["error"] = exc

        thread = threading.Thread(target=caller)
        thread.start()
        deadline = time.time() + 30
        while not list(tmp_path.glob("f*")) and time.time() < deadline:  # the calls are running
            time.sleep(0.05)
        children = [c.pid for c in psutil.Process().children() if "curate.sandbox" in " ".join(c.cmdline())]
        head.cancel()
        thread.join(30)
        made = sorted(p.name for p in tmp_path.glob("f*"))
        assert "error" in outcome and not thread.is_alive()
        time.sleep(1.5)  # what a retried or queued call would write meanwhile
        assert sorted(p.name for p in tmp_path.glob("f*")) == made and len(made) < 10
        alive = [p for p in children if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        assert children and not alive
        assert not [c for c in psutil.Process().children() if "curate.sandbox" in " ".join(c.cmdline())
                    and c.status() != psutil.STATUS_ZOMBIE]


def test_a_second_ctrl_c_during_cancel_does_not_cut_it_short(tmp_path, monkeypatch):
    """A double Ctrl-C (a break test): the second landed inside cancel(), whose cancelled
    block then ended early and let the killed call be retried in a new child, which went
    on writing into the output. Now the signal is only recorded there, and cancel() ends
    as after one Ctrl-C: no KeyboardInterrupt out of it, nothing written after it."""
    import contextlib
    import os
    import signal

    import pipelines.headstart as headstart_mod
    from support import guarded
    from support.headstart import serving_pool

    real = headstart_mod.guard.cancelled

    @contextlib.contextmanager
    def interrupted_inside():
        with real():
            os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, inside the cancellation
            time.sleep(0.1)  # delivered to this (main) thread meanwhile
            yield

    outcome = {}
    with serving_pool(2) as head:
        def caller():
            try:
                head.calls(guarded.touch_later, [(str(tmp_path / f"f{k}"), 0.4) for k in range(40)])
            except BaseException as exc:  # noqa: BLE001 - the test looks at it
                outcome["error"] = exc

        thread = threading.Thread(target=caller)
        thread.start()
        deadline = time.time() + 30
        while not list(tmp_path.glob("f*")) and time.time() < deadline:
            time.sleep(0.05)
        monkeypatch.setattr(headstart_mod.guard, "cancelled", interrupted_inside)
        head.cancel()  # raises KeyboardInterrupt if the signal was not held
        thread.join(30)
        made = sorted(p.name for p in tmp_path.glob("f*"))
        time.sleep(1.5)
        assert "error" in outcome and sorted(p.name for p in tmp_path.glob("f*")) == made and len(made) < 10
