"""The child-process guard: time limit, crash and memory bound cost one task, with one retry;
the children it keeps (prestarted, spare, one set per thread), within which caps, and when
it replaces one (calls stopped from outside: test_guard_signals.py)."""

import os

import pytest

from curate.codec import CodecError
from curate.guard import LimitExceeded, Limits, run_limited
from support import guarded
from support.guarded import _attempts


def test_result_comes_back():
    assert run_limited(guarded.square, 7, Limits()) == 49


@pytest.mark.parametrize("fn,reason,timeout_s", [
    (guarded.sleepy, "timeout", 3),      # sleeps 60 s: only the limit stops it
    (guarded.crash, "decode_error", 600),  # these fail by themselves: a long limit keeps
    (guarded.balloon, "decode_error", 600),  # them independent of the machine's load
])
def test_failure_is_retried_once_then_rejected(tmp_path, fn, reason, timeout_s):
    marker = tmp_path / "attempts"
    with pytest.raises(LimitExceeded) as err:
        run_limited(fn, str(marker), Limits(timeout_s=timeout_s, memory_mb=256, retries=1))
    assert err.value.reason == reason
    assert _attempts(marker) == 2
    if fn is guarded.balloon:
        assert "memory bound" in err.value.detail
    if fn is guarded.crash:  # the signal by name; an EOFError has no text to add after it
        assert err.value.detail == "worker process died (killed by SIGSEGV) (2 attempts)"


def test_time_limit_counts_from_a_ready_child_not_its_start_up(tmp_path, monkeypatch):
    """A child that takes longer to start than the call's limit still runs the call: the
    limit measures the work (a loaded machine once turned slow start-ups into timeouts)."""
    import curate.guard as guard

    monkeypatch.setattr(guard, "_SANDBOX_MODULE", "support.slow_sandbox")  # starts 3 s late
    guard._SANDBOXES.clear()
    try:
        assert run_limited(guarded.square, 9, Limits(timeout_s=1, memory_mb=256, retries=0)) == 81
    finally:
        for box in guard._SANDBOXES.values():
            box.close()
        guard._SANDBOXES.clear()


def test_a_verdict_is_not_retried(tmp_path):
    marker = tmp_path / "attempts"
    with pytest.raises(CodecError) as err:
        run_limited(guarded.verdict, str(marker), Limits(retries=1))
    assert err.value.reason == "truncated" and _attempts(marker) == 1


def test_many_threads_do_not_eat_the_memory_bound():
    # Each glibc malloc arena reserves 64 MB of address space, which RLIMIT_AS counts; a
    # child whose earlier calls ran threads (the one-decode pass runs four) would lose its
    # bound to arenas without MALLOC_ARENA_MAX (TransNetV2 then failed to allocate).
    assert run_limited(guarded.threads_then_block, 300, Limits(memory_mb=512, retries=0)) == 300


def test_a_prestarted_child_runs_the_first_call_and_close_all_stops_an_unused_one(capfd):
    import curate.guard as guard

    guard.close_all()
    guard.prestart(320)
    box = guard._SANDBOXES[320]
    guard.prestart(320)  # one child per bound: the second call keeps it
    assert guard._SANDBOXES[320] is box
    assert run_limited(guarded.pid, None, Limits(memory_mb=320, retries=0)) == box.proc.pid
    guard.prestart(384)  # never called: closed with its "ready" unread (the socket is reset)
    spare = guard._SANDBOXES[384]
    assert spare.conn.poll(120)
    guard.close_all()
    assert spare.proc.returncode == 0 and box.proc.poll() is not None and guard._SANDBOXES == {}
    assert "Traceback" not in capfd.readouterr().err  # it ends quietly (before: ConnectionResetError)


def test_a_spare_child_takes_the_first_bound_asked_for(tmp_path):
    """``prestart()`` with no bound starts a spare child (a run's driver does before it has
    read its pipeline); the first bound asked for takes it over, and that bound holds."""
    import signal

    import curate.guard as guard

    guard.close_all()
    guard.prestart()
    spare = guard._SANDBOXES[None]
    guard.prestart(288)
    assert guard._SANDBOXES == {288: spare}
    limits = Limits(memory_mb=288, retries=0)
    assert run_limited(guarded.pid, None, limits) == spare.proc.pid
    assert run_limited(guarded.address_space_limit, None, limits) > 0  # capped, not unlimited
    with pytest.raises(LimitExceeded) as err:  # 4 GB in 64 MB blocks: over 288 MB
        run_limited(guarded.balloon, str(tmp_path / "attempts"), limits)
    assert "288 MB memory bound" in err.value.detail
    guard.prestart()  # a call's own bound comes from the spare too, without a prestart of it
    spare = guard._SANDBOXES[None]
    assert run_limited(guarded.pid, None, Limits(memory_mb=320, retries=0)) == spare.proc.pid
    guard.prestart()
    unused = guard._SANDBOXES[None]
    guard.close_all()  # an unused spare is killed, not waited for (it may still be importing)
    assert unused.proc.returncode == -signal.SIGKILL and guard._SANDBOXES == {}


def test_threads_with_children_of_their_own_run_their_calls_at_once(tmp_path):
    """Two threads inside own_children() each get a child: their calls meet (each waits
    for the other's file), so neither waited for the other's call. The adopting thread's
    call goes to the prestarted child; both children stop when the blocks end."""
    import threading

    import curate.guard as guard

    guard.close_all()
    guard.prestart(448)
    prestarted = guard._SANDBOXES[448].proc
    got, boxes = {}, {}

    def call(name, other, adopt):
        with guard.own_children(adopt=adopt):
            got[name] = run_limited(guarded.rendezvous, (str(tmp_path), name, other),
                                    Limits(timeout_s=120, memory_mb=448, retries=0))
            boxes[name] = guard._boxes()[448].proc

    threads = [threading.Thread(target=call, args=("a", "b", True)),
               threading.Thread(target=call, args=("b", "a", False))]
    for t in threads:  # "b" never takes the prestarted child: it is the process's, bound to 448
        t.start()
    for t in threads:
        t.join(120)
    assert got["a"] == (prestarted.pid, True) and got["b"][1] is True
    assert got["b"][0] not in (prestarted.pid, None)
    assert guard._SANDBOXES == {} and guard._OWN == {}  # adopted, and the threads' sets are gone
    assert boxes["a"].poll() is not None and boxes["b"].poll() is not None  # stopped with their blocks


def test_work_in_a_sandbox_can_sandbox_work_of_its_own():
    """A sandboxed call whose work makes sandboxed calls of its own (a local run's restore
    re-encodes a clip on the pool's child, and the extract stage sandboxes its decode):
    the inner child cannot raise the cap it inherits, and had failed to start ("not allowed
    to raise maximum limit"), so the clip was lost. It starts within that cap now, under
    a bound of its own. Here the inner bound is the larger; in a run both are 4096 MB, and
    the inner cap, counted from the inner child's own size, came out above the inherited one."""
    outer, inner, got = run_limited(guarded.nested, 1024, Limits(timeout_s=120, memory_mb=512, retries=0))
    assert outer != inner and os.getpid() not in (outer, inner) and got == 64


def test_a_child_serves_many_calls_and_is_replaced_once_it_keeps_half_its_room():
    """Starting a child costs its imports, so one whose memory stays is kept over many calls
    (an earlier rule replaced it after 64, 8 extra children in a run over 300 short
    files); one that keeps memory between calls (here 48 MB more each call, a leak) is
    replaced once that takes half the room it had after its first call, before a call
    runs out of it: 8 calls keep 384 MB, more than the 320 MB bound."""
    import curate.guard as guard

    limits = Limits(timeout_s=120, memory_mb=256, retries=0)
    with guard.own_children():
        pids = {run_limited(guarded.pid, None, limits) for _ in range(100)}
        assert len(pids) == 1
        first = guard._boxes()[256]
        assert first.calls == 100 and not first.worn()

        leaky = Limits(timeout_s=120, memory_mb=320, retries=0)  # a child of its own (another bound)
        seen = [run_limited(guarded.hoard, 48, leaky) for _ in range(8)]  # none raised
        assert seen[:3] == [seen[0]] * 3 and len(set(seen)) >= 2
        assert first.proc.poll() is None and guard._boxes()[256] is first  # the other bound's child stays


def test_a_child_started_inside_a_sandbox_counts_the_cap_it_inherited():
    """Work in a sandbox child that sandboxes work of its own: the inner child inherits the
    outer cap (512 MB here), lower than its own bound (1024 MB); its room is that cap, so
    an inner child keeping 100 MB a call is replaced before it runs out."""
    out = run_limited(guarded.hoard_inside, (1024, 100, 8), Limits(timeout_s=300, memory_mb=512, retries=0))
    assert all(isinstance(x, int) for x in out), out
    assert len(set(out)) >= 2


def test_a_call_that_raised_leaves_a_new_child_for_the_next():
    import curate.guard as guard

    limits = Limits(timeout_s=120, memory_mb=288, retries=1)
    with guard.own_children():
        before = run_limited(guarded.pid, None, limits)
        with pytest.raises(RuntimeError, match="boom"):
            run_limited(guarded.fail, None, limits)
        assert run_limited(guarded.pid, None, limits) != before
