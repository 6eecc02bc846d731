"""Fail fast and clearly when ``--address`` names no reachable Ray cluster.

``ray.init(address="10.0.0.5:6379")`` against a host where nothing listens retries for
minutes while printing Ray's own warnings. Before Ray is touched, :func:`check_address`
opens a TCP connection to the cluster's GCS port (``HOST:PORT`` or ``ray://HOST:PORT``),
retrying for at most ``timeout_s`` seconds (a cluster that is still starting gets that
long), and raises :class:`~pipelines.exits.ClusterUnreachable` (exit code 6) otherwise.
A port that accepts but is not Ray's (a web server, an S3 endpoint) made ``ray.init``
retry forever, holding the output's lease: the GCS speaks gRPC, so the check also sends
the HTTP/2 connection preface (RFC 9113, section 3.4) and requires the server's SETTINGS
frame in reply. A port that accepts and stays silent (a head whose GCS is frozen or
overloaded) is asked again until the time is up, then named as such.
``auto`` is resolved by Ray itself from the local node's address file; when none is
running, :func:`pipelines.session.init_ray` turns Ray's ConnectionError into the same error.
"""

from __future__ import annotations

import socket
import time

from pipelines.exits import ClusterUnreachable, UsageError


def parse_address(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``HOST:PORT`` / ``ray://HOST:PORT`` / ``[v6]:PORT``; None for ``auto``.

    Raises :class:`~pipelines.exits.UsageError` for anything else.
    """
    if address in ("auto", "local"):
        return None
    bare = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = bare.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--address {address}: expected HOST:PORT, ray://HOST:PORT or auto")
    return host, int(port)


_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # + empty SETTINGS


def speaks_http2(conn: socket.socket) -> bool | None:
    """Whether the server on ``conn`` (connected, with a timeout set) answers the HTTP/2
    client preface with a SETTINGS frame (a 9-byte frame header of type 4), as every gRPC
    server does first; False on any other reply or a close, None when it stays silent
    until the timeout."""
    head = b""
    try:
        conn.sendall(_PREFACE)
        while len(head) < 9:
            chunk = conn.recv(9 - len(head))
            if not chunk:
                return False
            head += chunk
    except TimeoutError:
        return None if not head else False
    except OSError:
        return False
    return head[3] == 4 and head[4] & 1 == 0  # SETTINGS, not an ACK


def check_address(address: str | None, timeout_s: float = 30.0) -> None:
    """Return once ``address``'s port accepts a TCP connection and answers as a gRPC server
    (no-op for None and ``auto``).

    Raises :class:`~pipelines.exits.ClusterUnreachable` after ``timeout_s`` seconds of
    refused, timed-out or silent connections, at once when the port answers but not as
    gRPC, :class:`~pipelines.exits.UsageError` for a
    malformed address, or a ``ray://`` one without Ray Client's ``grpc`` installed.
    """
    target = parse_address(address) if address else None
    if target is None:
        return
    if address.startswith("ray://"):
        try:
            import grpc  # noqa: F401 - what ray[client] adds
        except ImportError:
            raise UsageError(f"--address {address}: Ray Client needs its extra (pip install "
                             "'vidcurate[client]'); or give the head's GCS address HOST:6379") from None
    deadline = time.monotonic() + timeout_s
    silent = False
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection(target, timeout=max(0.1, min(5.0, left))) as conn:
                grpc = speaks_http2(conn)
        except OSError as exc:
            last, silent = exc, False
        else:
            if grpc:
                return
            silent = grpc is None
            if silent:  # a frozen or busy head: asked again while there is time
                if time.monotonic() + 1.0 > deadline:
                    break
                time.sleep(1.0)
                continue
            raise ClusterUnreachable(
                f"--address {address}: {target[0]}:{target[1]} accepts connections but is not a Ray "
                "cluster (no gRPC reply); give the head node's GCS port (6379 by default, printed "
                "by ray start --head)")
        if time.monotonic() + 1.0 > deadline:
            break
        time.sleep(1.0)
    if silent:
        raise ClusterUnreachable(
            f"--address {address}: {target[0]}:{target[1]} accepts connections but gave no gRPC reply "
            f"within {timeout_s:g} s: a head node that is frozen or overloaded (see its logs, or raise "
            "--connect-timeout), or a service that is not Ray (give the head node's GCS port)")
    raise ClusterUnreachable(f"--address {address}: no Ray cluster answers at {target[0]}:{target[1]} "
                             f"within {timeout_s:g} s ({last.strerror or last}); is it started "
                             "(ray start --head) and is the port open?")
