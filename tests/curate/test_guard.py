"""The child-process guard: time limit, crash and memory bound cost one task, with one retry."""

import pytest

from curate.codec import CodecError
from curate.guard import LimitExceeded, Limits, run_limited
from support import guarded


def _attempts(path):
    return len(path.read_text()) if path.exists() else 0


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
