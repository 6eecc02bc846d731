"""A Hugging Face Hub endpoint on loopback for tests of :mod:`curate.hub`: a port nobody
listens on (the hub out of reach, as on an offline machine: :func:`support.s3.free_port`),
or a listening socket. Use the fixture with ``from support.hub import hub_endpoint  # noqa: F401``."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import pytest

from curate import hub


@pytest.fixture
def hub_endpoint(monkeypatch):
    """Point the hub client at ``http://127.0.0.1:PORT`` (no proxy, not offline); gives a
    function taking the port. :func:`curate.hub.hub_reachable` is asked afresh."""
    from huggingface_hub import constants

    for name in hub._PROXIES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    hub.hub_reachable.cache_clear()

    def point(port: int) -> None:
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
        hub.hub_reachable.cache_clear()

    yield point
    hub.hub_reachable.cache_clear()


def no_waiting(seconds):
    """Stand-in for ``time.sleep``: the hub client's retries sleep between tries, so a retry
    fails the test."""
    raise AssertionError(f"waited {seconds} s for the hub")


@contextlib.contextmanager
def listening() -> Iterator[int]:
    """A loopback port with a listening socket for the span of the block (the hub in reach:
    it takes a connection, though it answers no request); yields the port."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        yield server.getsockname()[1]
