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
