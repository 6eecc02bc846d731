"""Exit codes and one-line messages when the environment, not vidcurate, is at fault: a store
that refuses, a port that is not Ray, Ray Client without its extra, a reader that closes
the pipe (the real command in a subprocess, or ``main`` where no Ray starts)."""

import os
import socket
import subprocess
import sys
import threading

import pytest

from pipelines import exits
from pipelines.cli import main
from pipelines.exits import one_line, store_problem
from support.pipelines import LOCAL_YAML
from support.s3 import s3  # noqa: F401 - the module-scoped S3 server fixture
from support.synth import Shot, shots_video


def _serve(reply: bytes):
    """A loopback TCP server that answers every connection with ``reply`` after reading
    what the client sent; returns its port (a daemon thread serves it)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def loop():
        while True:
            conn, _ = srv.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(reply)

    threading.Thread(target=loop, daemon=True).start()
    return srv.getsockname()[1]


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "v.mp4"
    shots_video(str(path), [Shot(3, 30)], 96, 64)
    return str(path)


def test_a_missing_bucket_is_exit_2_in_one_line(s3, video, tmp_path):  # noqa: F811
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **s3.env)
    res = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", LOCAL_YAML, "--input", video,
                          "--output", "s3://no-such-bucket-here/run", "--quiet"],
                         capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr[-2000:]  # before: 1, "internal error ... please report it"
    assert lines[-1].startswith("error: storage: FileNotFoundError") and "bucket" in lines[-1]
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr


def test_a_port_that_is_not_ray_is_exit_6_at_once(video, tmp_path, capsys):
    port = _serve(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")  # a web server
    code = main(["run", LOCAL_YAML, "--input", video, "--output", str(tmp_path / "out"),
                 "--address", f"127.0.0.1:{port}", "--connect-timeout", "20"])
    err = capsys.readouterr().err
    assert code == 6 and "is not a Ray cluster" in err  # before: ray.init retried for ever
    assert not (tmp_path / "out").exists()  # refused before the output's lease


def test_a_port_that_accepts_and_stays_silent_is_asked_until_the_timeout(video, tmp_path, capsys):
    """A head whose GCS is frozen or overloaded (SIGSTOP in a break test): it had been told
    apart from a web server after one 5 s try, whatever --connect-timeout said, and named
    "not a Ray cluster"."""
    import time

    srv, held = socket.socket(), []
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    threading.Thread(target=lambda: [held.append(srv.accept()[0]) for _ in range(50)], daemon=True).start()
    port = srv.getsockname()[1]
    t0 = time.monotonic()
    code = main(["run", LOCAL_YAML, "--input", video, "--output", str(tmp_path / "out"),
                 "--address", f"127.0.0.1:{port}", "--connect-timeout", "3"])
    waited = time.monotonic() - t0
    err = capsys.readouterr().err
    srv.close()
    for conn in held:
        conn.close()
    assert code == 6 and "accepts connections but gave no gRPC reply within 3 s" in err, err
    assert "frozen or overloaded" in err and "is not a Ray cluster" not in err
    assert waited >= 2.5  # the whole --connect-timeout (not one try of 5 s, not at once)
    assert not (tmp_path / "out").exists()


def test_ray_client_address_without_its_extra_is_exit_2(video, tmp_path, capsys):
    try:
        import grpc  # noqa: F401
        pytest.skip("ray[client] is installed here")
    except ImportError:
        pass
    code = main(["run", LOCAL_YAML, "--input", video, "--output", str(tmp_path / "out"),
                 "--address", "ray://127.0.0.1:10001", "--connect-timeout", "5"])
    err = capsys.readouterr().err
    assert code == 2 and "vidcurate[client]" in err and "internal error" not in err
    assert not (tmp_path / "out").exists()  # told before the lease and before Ray


@pytest.mark.parametrize("extra", [["--json"], []])  # print, and rich's Console (tables)
def test_a_closed_pipe_ends_quietly_with_141(curated_run, extra):
    script = ("import os, sys\n"
              "r, w = os.pipe(); os.close(r); os.dup2(w, 1)\n"  # stdout: a pipe nobody reads
              "from pipelines.cli import main\n"
              f"sys.exit(main(['stats', {str(curated_run)!r}, *{extra!r}]))\n")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"))
    assert res.returncode == 141 and res.stderr == ""  # before: 1 ("internal error: BrokenPipeError",
    # or rich's own SystemExit(1))


def test_a_ray_task_error_is_told_by_its_cause_in_one_line():
    import ray.exceptions

    try:
        raise PermissionError("Forbidden")
    except PermissionError as cause:
        err = ray.exceptions.RayTaskError("write_shard", "Traceback (most recent call last):\n  ...\n",
                                          cause).as_instanceof_cause()
    assert one_line(err) == "PermissionError: Forbidden"
    assert store_problem(err) and not store_problem(ValueError("x"))


def test_the_installed_command_returns_mains_code_and_leaves_its_objects_to_the_os():
    """``command()`` (the console script) gives main's exit code and freezes the
    collector's objects, so Python's shutdown does not walk them (0.3-0.6 s a run)."""
    code = ("import gc, sys; sys.argv = ['vidcurate', 'validate', sys.argv[1]]; "
            "from pipelines.cli import command; c = command(); print(c, gc.get_freeze_count() > 1000)")
    for yaml, want in ((LOCAL_YAML, "0 True"), ("no-such.yaml", "2 True")):
        out = subprocess.run([sys.executable, "-c", code, yaml], capture_output=True, text=True, timeout=120)
        assert out.stdout.splitlines()[-1] == want, out.stderr


def test_a_ctrl_c_while_the_command_loads_its_subcommands_is_interrupted_not_a_traceback(monkeypatch, capsys):
    """build_parser imports the report and trainer commands (pydantic models, about a
    second on a busy machine): a Ctrl-C there ends in "interrupted" and 130."""
    from pipelines import cli

    def parser():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", parser)
    assert main(["validate", LOCAL_YAML]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "interrupted" and "Traceback" not in err


def test_an_output_that_is_a_file_is_exit_2_naming_it(video, tmp_path, capsys):
    """Found by a new-user walk-through: a file as --output was a storage error blaming
    credentials, and the input file itself as --output 'no video files found'."""
    taken = tmp_path / "notes.txt"
    taken.write_text("mine\n")
    for out in (str(taken), video):
        assert main(["run", LOCAL_YAML, "--input", video, "--output", out, "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.strip() == (f"error: --output {out}: is a file; --output names a folder "
                               "(a new one, or an earlier run's output to resume)")
    assert taken.read_text() == "mine\n"


def test_an_output_below_a_file_is_exit_2_naming_the_file(video, tmp_path, capsys):
    """Found by a new-user trial: an --output below a file was a storage error that
    blamed the bucket and credentials, after the inputs were scanned."""
    taken = tmp_path / "notes.txt"
    taken.write_text("mine\n")
    out = str(taken / "run" / "one")
    assert main(["run", LOCAL_YAML, "--input", video, "--output", out, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: --output {out}: {taken} is a file, so no folder can be made below it"
    assert taken.read_text() == "mine\n"


def test_an_output_folder_of_other_files_is_warned_of(video, tmp_path, capsys):
    """Found by a new-user trial: an --output folder holding only someone's notes took the
    run's files beside them without a word."""
    out = tmp_path / "exist"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    (out / ".DS_Store").write_text("")
    assert main(["run", LOCAL_YAML, "--input", video, "--output", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"warning: --output {out} holds files of no vidcurate run (notes.txt); the run's files go beside them" in err
    assert (out / "notes.txt").read_text() == "mine\n" and (out / "index.parquet").exists()
    assert main(["run", LOCAL_YAML, "--input", video, "--output", str(out), "--quiet"]) == 0
    assert "holds files of no vidcurate run" not in capsys.readouterr().err  # its own output now


def test_an_input_folder_given_as_the_output_too_says_why_its_videos_are_not_read(video, tmp_path, capsys):
    """Found by a new-user trial: the input folder given as --output too was 'no video files
    found' in a folder that holds videos (those inside the output are never inputs)."""
    folder = tmp_path / "mine"
    folder.mkdir()
    os.link(video, folder / "a.mp4")
    assert main(["run", LOCAL_YAML, "--input", str(folder), "--output", str(folder), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert (f"error: no video files found in [{str(folder)!r}]; 1 more lie inside --output {folder}, "
            "and nothing inside the output folder is read as input") in err
    assert sorted(p.name for p in folder.iterdir()) == ["a.mp4"]


def test_samples_into_a_file_is_exit_2_not_an_internal_error(tmp_path, capsys):
    """Found by a new-user trial: ``vidcurate samples FILE`` was an internal error (exit 1)."""
    taken = tmp_path / "afile"
    taken.write_text("mine\n")
    assert main(["samples", str(taken)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {taken} is a file, not a folder to copy the samples into"
    assert main(["samples", str(taken / "sub")]) == 2
    assert capsys.readouterr().err.strip() == f"error: cannot copy the samples into {taken / 'sub'}: Not a directory"
    assert taken.read_text() == "mine\n"


def test_an_output_that_is_a_store_object_is_exit_2(s3, video, monkeypatch, capsys):  # noqa: F811
    """Found by a break test: an S3 --output naming an existing object (a video) was taken
    as a prefix, and the video then stopped being an input."""
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    s3.fs().pipe(s3.url("raw", "eat.mp4").split("://", 1)[1], b"video bytes")
    out = s3.url("raw", "eat.mp4")
    assert main(["run", LOCAL_YAML, "--input", video, "--output", out, "--quiet"]) == 2
    assert f"error: --output {out}: is a file;" in capsys.readouterr().err
    assert s3.files("raw") == {"raw/eat.mp4": len(b"video bytes")}


@pytest.mark.parametrize(("argv", "attr", "said"), [
    (["report", "OUT"], "pipelines.report_html.page.write_report", "report.html is not rebuilt (one already there is left as it was)"),
    (["stats", "OUT"], "pipelines.report_html.data.load_run", None),
])
@pytest.mark.parametrize(("stop", "code", "word"), [(KeyboardInterrupt, 130, "interrupted"),
                                                    (exits.Terminated, 143, "terminated (SIGTERM)")])
def test_a_stopped_report_or_stats_says_what_it_left_not_the_runs_advice(monkeypatch, capsys, tmp_path,
                                                                          argv, attr, said, stop, code, word):
    """A break test: a Ctrl-C in ``vidcurate report`` said "committed sources are kept; run
    the same command again to resume", the words of ``run``, which it has no sources for."""
    def stopped(*args, **kwargs):
        raise stop()

    monkeypatch.setattr(attr, stopped)
    assert main([argv[0], str(tmp_path)]) == code
    err = capsys.readouterr().err.strip()
    assert err == (f"{word}: {said}" if said else word) and "resume" not in err


@pytest.mark.parametrize("argv,late", [
    (["run", "--output", "o", "--input", "clips", "local"], "'local'"),
    (["run", "--dedup-against", "old", "--input", "clips", "my.yaml", "--output", "o"], "'my.yaml'"),
    (["run", "--input-list", "list.txt", "gpu", "--output", "o"], "'gpu'"),
])
def test_a_pipeline_named_after_an_option_of_several_values_is_said(tmp_path, monkeypatch, capsys, argv, late):
    """A new-user trial: argparse had said only that the pipeline is required, though it was typed."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert exc.value.code == 2
    assert err == (f"vidcurate run: error: the following arguments are required: pipeline ({late} was read as one "
                   "more value of the option before it, which takes several: name the pipeline first, "
                   f"vidcurate run {late[1:-1]} --input ...)")


def test_a_missing_pipeline_is_said_plainly_when_no_option_took_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "local").mkdir()  # a folder named local is an input, not a pipeline
    for argv in (["run", "--input", "clips", "--output", "o"], ["run", "--input", "local", "--output", "o"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert capsys.readouterr().err.strip().splitlines()[-1].endswith("required: pipeline")
