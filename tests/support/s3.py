"""A real S3-compatible server on loopback for tests: moto's standalone server.

:func:`s3_server` starts ``moto.server.ThreadedMotoServer`` on ``127.0.0.1`` at a free
port, creates one bucket and yields an :class:`S3Server` that names the endpoint, the
bucket and the environment a child process (the ``vidcurate`` command, a Ray node and
its workers) needs to reach it through botocore/s3fs: ``AWS_ENDPOINT_URL`` (botocore
>= 1.31), ``FSSPEC_S3_ENDPOINT_URL`` (fsspec's per-protocol config, read at import),
dummy credentials and a region. The server speaks real HTTP, so every process on the
machine sees the same bucket; nothing is mocked inside the process under test.

Use it as a pytest fixture (``from support.s3 import s3  # noqa: F401`` in a test
module) or as a context manager (``with s3_server() as server: ...``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

BUCKET = "vidcurate-test"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint with one bucket.

    ``endpoint``: ``http://127.0.0.1:<port>``. ``bucket``: the bucket name.
    ``env``: environment variables that point botocore and s3fs at the endpoint.
    """

    endpoint: str
    bucket: str

    @property
    def env(self) -> dict[str, str]:
        """Endpoint and credential variables for a child process's environment."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "FSSPEC_S3_ENDPOINT_URL": self.endpoint, **CREDENTIALS}

    def url(self, *parts: str) -> str:
        """``s3://<bucket>/<parts joined by />``."""
        return "/".join([f"s3://{self.bucket}", *(p.strip("/") for p in parts)])

    def fs(self):
        """A fresh ``s3fs.S3FileSystem`` on this endpoint (no listing cache shared with others)."""
        import s3fs

        return s3fs.S3FileSystem(key=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                 secret=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                                 endpoint_url=self.endpoint, skip_instance_cache=True,
                                 use_listings_cache=False,
                                 client_kwargs={"region_name": CREDENTIALS["AWS_DEFAULT_REGION"]})

    def files(self, prefix: str = "") -> dict[str, int]:
        """``{key below the bucket: size in bytes}`` of every object under ``prefix``."""
        found = self.fs().find(f"{self.bucket}/{prefix.strip('/')}".rstrip("/"), detail=True)
        return {name.split("/", 1)[1]: info["size"] for name, info in found.items()}


@contextlib.contextmanager
def s3_server(bucket: str = BUCKET) -> Iterator[S3Server]:
    """Start moto's S3 server on 127.0.0.1 at a free port, empty but for ``bucket``; stop it after."""
    from moto.server import ThreadedMotoServer

    import boto3

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        s3 = S3Server(endpoint=f"http://127.0.0.1:{port}", bucket=bucket)
        # moto keeps its buckets in process-wide state: without a reset, objects that an
        # earlier test module's server stored would show up in this one.
        urllib.request.urlopen(urllib.request.Request(f"{s3.endpoint}/moto-api/reset", method="POST"),
                               timeout=30).close()
        boto3.client("s3", endpoint_url=s3.endpoint, region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
                     aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"]).create_bucket(Bucket=bucket)
        yield s3
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    """Module-scoped S3 server (see :func:`s3_server`)."""
    with s3_server() as server:
        yield server
