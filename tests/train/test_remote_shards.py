"""Remote (HTTP) shards that fail: a download cut short, a server error, a server that
never answers are skipped as bad shards with their reason; no permission (HTTP 401/403)
stops the training with one line (exit 2). Found by break tests: fsspec reads every HTTP
failure as FileNotFoundError ("not found"), and aiohttp waits 5 minutes for a silent server."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from train.cli import main
from support.s3 import s3  # noqa: F401 - the module-scoped S3 server fixture
from train.shards import SkippedDataWarning, SkipStats, iter_samples


@pytest.fixture
def server(train_shards):
    """``(base URL, silent URL)``: an HTTP server whose ``/cut.tar`` sends half of a real
    shard and drops the connection and whose ``/<status>.tar`` answers that status; and a
    socket that accepts connections and never answers."""
    [shard] = sorted((train_shards / "shards").glob("*.tar"))[:1]
    data = shard.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            name = self.path.strip("/").split(".")[0]
            if name == "cut":
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])  # then the connection drops
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_response(int(name))
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    silent, held = socket.socket(), []
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)

    def accept():
        try:
            while True:
                held.append(silent.accept()[0])
        except OSError:  # closed at the end of the test
            pass

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_address[1]}", f"http://127.0.0.1:{silent.getsockname()[1]}/x.tar"
    http.shutdown()
    http.server_close()
    silent.close()
    for conn in held:
        conn.close()


def _skipped(url: str) -> str:
    stats = SkipStats()
    with pytest.warns(SkippedDataWarning) as warned:
        assert list(iter_samples(url, stats)) == []
    assert stats.counts["shard"] == 1 and url in stats.bad_shards
    return str(warned[0].message)


def test_a_remote_shard_whose_download_is_cut_short_is_skipped(server):
    assert "download cut short" in _skipped(f"{server[0]}/cut.tar")


def test_a_server_error_is_skipped_with_its_status(server):
    said = _skipped(f"{server[0]}/500.tar")
    assert said.endswith("cannot be opened (HTTP 500 Internal Server Error)"), said
    assert "HTTP 404 Not Found" in _skipped(f"{server[0]}/404.tar")


def test_a_server_that_never_answers_is_skipped_after_the_timeout(server, monkeypatch):
    from train import shards

    monkeypatch.setattr(shards, "REMOTE_TIMEOUT_S", 1.0)
    t0 = time.monotonic()
    said = _skipped(server[1])
    assert "no answer within 1 s" in said, said
    assert time.monotonic() - t0 < 30  # fsspec's retries of 1 s each, not aiohttp's 5 minutes


@pytest.mark.parametrize("status", [401, 403])
def test_no_permission_stops_the_training_with_one_line(server, status, tiny_config, tmp_path, capsys):
    with pytest.raises(PermissionError, match=f"HTTP {status}"):
        list(iter_samples(f"{server[0]}/{status}.tar", SkipStats()))
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(tiny_config))
    code = main(["train", "--shards", f"{server[0]}/{status}.tar", "--config", str(config),
                 "--output", str(tmp_path / "run"), "--max-steps", "2"])
    err = capsys.readouterr().err
    assert code == 2, err[-2000:]
    assert f"HTTP {status}" in err and "internal error" not in err and "Traceback" not in err


def test_a_glob_over_a_web_folder_lists_whole_urls(train_shards):
    """fsspec lists web paths as whole URLs: a glob over an HTTP folder had had its scheme
    added again (``http://http://host/...``) and read no shard (a break test)."""
    import functools
    from http.server import SimpleHTTPRequestHandler

    from train.shardlist import expand_shards

    folder = train_shards / "shards"
    quiet = type("Quiet", (SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
    web = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet, directory=str(folder)))
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{web.server_address[1]}"
        urls = expand_shards(f"{base}/*.tar")
        assert urls == [f"{base}/{p.name}" for p in sorted(folder.glob("*.tar"))] and urls
        local = sum(1 for _ in iter_samples(str(sorted(folder.glob("*.tar"))[0]), SkipStats()))
        assert sum(1 for _ in iter_samples(urls[0], SkipStats())) == local > 0
    finally:
        web.shutdown()
        web.server_close()


def test_a_store_url_of_a_run_folder_means_its_shards(s3, train_shards, monkeypatch):  # noqa: F811
    """``s3://bucket/run`` means its ``shards/*.tar``, as a local run folder does (and as
    ``inspect`` read it); training had read it as one tar, "empty file" (a break test)."""
    import fsspec

    from support.s3 import CREDENTIALS
    from train.shardlist import expand_shards

    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": s3.endpoint})
    names = sorted(p.name for p in (train_shards / "shards").glob("*.tar"))
    for name in names:
        s3.fs().put(str(train_shards / "shards" / name), f"{s3.bucket}/run/shards/{name}")
    want = [s3.url("run", "shards", n) for n in names]
    assert expand_shards(s3.url("run")) == want and expand_shards(s3.url("run", "shards")) == want
    assert expand_shards(s3.url("run", "shards", names[0])) == want[:1]


@pytest.mark.parametrize("spec", ["htps://example.com/shard-000000.tar", "s4://bucket/run", "s4://bucket/*.tar"])
def test_an_unknown_storage_protocol_is_said_before_training(spec, tiny_config, tmp_path, capsys):
    """A mistyped scheme had been an internal error (exit 1) once training started."""
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(tiny_config))
    assert main(["train", "--shards", spec, "--config", str(config), "--output", str(tmp_path / "o"),
                 "--max-steps", "1"]) == 2
    assert f"no storage protocol {spec.split(':')[0]!r} is known" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_store_error_at_once_leaves_no_folder(s3, tiny_config, tmp_path, monkeypatch):  # noqa: F811
    """A store's own error (here: no credentials for the bucket) ends the training at step
    0, said by the command; the folder it made had stayed with a log of one "start" line,
    one more each retry (a break test)."""
    import fsspec

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": s3.endpoint, "skip_instance_cache": True})
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(tiny_config))
    with pytest.raises(Exception, match="credentials"):
        main(["train", "--shards", s3.url("run", "shard-000000.tar"), "--config", str(config),
              "--output", str(tmp_path / "o"), "--max-steps", "1"])
    assert not (tmp_path / "o").exists()


def test_a_chained_url_keeps_its_cache_layer_and_a_query_is_no_pattern(tmp_path):
    """``simplecache::`` had been dropped from the listed shards (caching silently off), and
    a signed web URL's ``?`` was taken for a glob character, so the URL was listed first
    (a review). Port 1 refuses connections: any request would fail here."""
    import fsspec

    from train.shardlist import expand_shards

    fs = fsspec.filesystem("memory")
    for i in range(2):
        fs.pipe(f"/{tmp_path.name}/shards/shard-00000{i}.tar", b"x")
    want = [f"memory:///{tmp_path.name}/shards/shard-00000{i}.tar" for i in range(2)]
    assert expand_shards(f"simplecache::memory://{tmp_path.name}/shards/*.tar") == [f"simplecache::{u}" for u in want]
    assert expand_shards(f"memory://{tmp_path.name}") == want
    signed = "https://127.0.0.1:1/shard-000000.tar?X-Amz-Signature=ab*c&X-Amz-Expires=60"
    assert expand_shards(signed) == [signed]
