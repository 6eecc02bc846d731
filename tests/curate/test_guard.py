"""The child-process guard: time limit, crash and memory bound cost one task, with one retry."""

import pytest

from curate.codec import CodecError
from curate.guard import LimitExceeded, Limits, run_limited
from support import guarded


def _attempts(path):
    return len(path.read_text()) if path.exists() else 0


def test_result_comes_back():
    assert run_limited(guarded.square, 7, Limits()) == 49


@pytest.mark.parametrize("fn,reason", [
    (guarded.sleepy, "timeout"),
    (guarded.crash, "decode_error"),
    (guarded.balloon, "decode_error"),
])
def test_failure_is_retried_once_then_rejected(tmp_path, fn, reason):
    marker = tmp_path / "attempts"
    with pytest.raises(LimitExceeded) as err:
        run_limited(fn, str(marker), Limits(timeout_s=2, memory_mb=256, retries=1))
    assert err.value.reason == reason
    assert _attempts(marker) == 2
    if fn is guarded.balloon:
        assert "memory bound" in err.value.detail


def test_a_verdict_is_not_retried(tmp_path):
    marker = tmp_path / "attempts"
    with pytest.raises(CodecError) as err:
        run_limited(guarded.verdict, str(marker), Limits(retries=1))
    assert err.value.reason == "truncated" and _attempts(marker) == 1
