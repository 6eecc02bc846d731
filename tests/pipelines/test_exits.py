"""Exit codes that tell the truth (pipelines/exits.py) and the cluster checks behind 6 and 7."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from pipelines import cli, exits
from pipelines.resources import fit_to_cluster, leave_room_for_tasks
from support.pipelines import LOCAL_YAML


def test_outcome_counts_nothing_kept_and_stage_errors():
    assert exits.run_outcome(3, {"probe:not_found": 1}, 0.0) == (0, None)
    code, msg = exits.run_outcome(0, {"probe:decode_error": 2, "probe:not_found": 1}, 0.0)
    assert code == exits.NOTHING_KEPT and "no clip kept" in msg
    # A bug in a stage: 4 stage_error rows among 4 clips + 1 other reject; budget 0.
    code, msg = exits.run_outcome(0, {"score:stage_error": 4, "probe:not_found": 1}, 0.0)
    assert code == exits.STAGE_ERRORS and msg.startswith("4 of 5") and "score" in msg
    # Within a budget of 25 %: 1 error among 8 kept + 1 error -> 1/9.
    assert exits.run_outcome(8, {"extract:stage_error": 1}, 0.25) == (0, None)
    assert exits.run_outcome(8, {"extract:stage_error": 1}, 0.1)[0] == exits.STAGE_ERRORS


def test_a_full_disk_is_no_space_exit_2_and_redone_by_the_next_run():
    """A break test: a long source whose frame spill filled TMPDIR was a stage_error row
    (as the sandbox child's RuntimeError) and exit 5, the code for a vidcurate bug."""
    import errno

    from curate.stage import reject_for
    from curate.tasks import SourceTask
    from pipelines.workstore import RETRY_REASONS

    for exc in (OSError(errno.ENOSPC, "No space left on device"), OSError(errno.EDQUOT, "Disk quota exceeded"),
                RuntimeError("OSError: [Errno 28] No space left on device"), ValueError("no [Errno 2] here")):
        task = SourceTask(path="a.mp4", work_dir="w")
        reject_for(task, "split", exc)
        want = "stage_error" if isinstance(exc, ValueError) else "no_space"
        assert [r.reason for r in task.rejects] == [want], exc
    assert "no_space" in RETRY_REASONS
    code, msg = exits.run_outcome(5, {"split:no_space": 2}, 0.0)
    assert code == exits.USAGE and msg.startswith("storage: 2 sources/clips") and "free space" in msg
    assert exits.run_outcome(0, {"split:no_space": 1, "score:stage_error": 1}, 0.0)[0] == exits.STAGE_ERRORS


class _Stage:
    def __init__(self, name, cpus=1.0, gpus=0.0, concurrency=None, uses_model=False):
        from curate.stage import Resources

        self.name, self.uses_model = name, uses_model
        self.resources = Resources(cpus=cpus, gpus=gpus, concurrency=concurrency)


def _node(cpus, gpus=0, alive=True):
    return {"Alive": alive, "Resources": {"CPU": cpus, **({"GPU": gpus} if gpus else {})}}


def test_a_gpu_stage_on_a_cpu_cluster_is_refused_before_work():
    stages = [_Stage("probe"), _Stage("vlm_caption", cpus=4, gpus=1, concurrency=8, uses_model=True)]
    with pytest.raises(exits.InsufficientResources, match="vlm_caption asks for 4 CPU and 1 GPU.*has no GPU"):
        fit_to_cluster(stages, [_node(16), _node(16)])


def test_an_actor_pool_larger_than_the_gpus_is_scaled_down():
    vlm = _Stage("vlm_caption", cpus=4, gpus=1, concurrency=8, uses_model=True)
    # Two GPU nodes: 2 GPUs/8 CPUs hosts 2 actors, 4 GPUs/8 CPUs hosts 2 (CPU-bound); a dead node counts 0.
    warnings = fit_to_cluster([vlm], [_node(8, 2), _node(8, 4), _node(64, 8, alive=False)])
    assert vlm.resources.concurrency == 4
    assert warnings == ["stage vlm_caption: resources.concurrency 8 > 4 actors the cluster can host "
                        "(4 CPU and 1 GPU each); using 4"]
    assert fit_to_cluster([vlm], [_node(8, 2), _node(8, 4)]) == []  # now it fits


def test_actor_pools_leave_a_cpu_for_the_plans_tasks():
    """A pool that holds every CPU leaves the per-source tasks none: the run had waited
    forever with no source done (found by a helper: quality at concurrency 2 on 2 CPUs,
    or any pool with ray.num_cpus 1). Pools shrink, the largest first; each plan alone."""
    quality = _Stage("quality", cpus=1, concurrency=2, uses_model=True)
    clip = _Stage("clip_embed", cpus=0.5, concurrency=5, uses_model=True)
    per_source = [_Stage("probe"), _Stage("split"), _Stage("extract"), quality, clip]
    vlm = _Stage("vlm_caption", cpus=2, concurrency=1, uses_model=True)  # captioning: a plan of its own
    # 2 + 2.5 + a 1-CPU task > 4 CPUs: clip_embed (2.5) gives one, then quality (2, the first of a tie)
    warnings = leave_room_for_tasks([per_source, [vlm]], [_node(4)])
    assert (quality.resources.concurrency, clip.resources.concurrency) == (1, 4)  # 1 + 2 + 1 <= 4
    assert vlm.resources.concurrency == 1  # 2 + 1 <= 4
    assert warnings == [
        "stage quality: resources.concurrency 2 leaves no CPU for the pipeline's tasks on this 4-CPU cluster; using 1",
        "stage clip_embed: resources.concurrency 5 leaves no CPU for the pipeline's tasks on this 4-CPU cluster; using 4"]
    assert leave_room_for_tasks([per_source, [vlm]], [_node(4)]) == []  # now it fits
    with pytest.raises(exits.InsufficientResources, match=r"pools of quality \(1 CPU at one actor each\).*need 2 "
                                                           r"CPUs at once; the Ray cluster has 1"):
        leave_room_for_tasks([[_Stage("probe"), _Stage("quality", cpus=1, uses_model=True)]], [_node(1)])


def test_a_worker_larger_than_every_node_is_refused():
    with pytest.raises(exits.InsufficientResources, match="extract asks for 8 CPU.*at most 4 CPU"):
        fit_to_cluster([_Stage("extract", cpus=8)], [_node(4), _node(2)])


def test_every_stage_that_fits_no_node_is_named_at_once():
    stages = [_Stage("extract", cpus=8), _Stage("probe"), _Stage("vlm_caption", cpus=2, gpus=1, uses_model=True)]
    with pytest.raises(exits.InsufficientResources) as err:
        fit_to_cluster(stages, [_node(4)])
    assert str(err.value) == ("stage extract asks for 8 CPU per worker, but the Ray cluster has 4 CPU; "
                              "stage vlm_caption asks for 2 CPU and 1 GPU per worker, but the Ray "
                              "cluster has no GPU; lower their resources in the pipeline file or run on a "
                              "cluster with such nodes (docs/cluster.md)")
    with pytest.raises(exits.InsufficientResources) as err:  # several nodes: the largest one counts
        fit_to_cluster(stages[:1], [_node(4), _node(6)], where="the cluster")
    assert str(err.value).startswith("stage extract asks for 8 CPU per worker, but the cluster has at most 6 CPU "
                                     "on one node;")


def test_gpu_pipeline_on_this_cpu_machine_stops_with_exit_7(ray_session, tmp_path, capsys):
    from support.synth import Shot, shots_video

    shots_video(str(tmp_path / "a.mp4"), [Shot(51, 40)], 160, 120)
    out = tmp_path / "out"
    code = cli.main(["run", "gpu", "--input", str(tmp_path / "a.mp4"), "--output", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == exits.RESOURCES, err
    # Every stage that asks for a GPU (clip_embed and vlm_caption in gpu.yaml) is named at once
    for name in ("clip_embed", "vlm_caption"):
        assert re.search(rf"stage {name} asks for [\d.]+ CPU and [\d.]+ GPU per worker, but the Ray "
                         r"cluster has no GPU", err), err
    assert not (out / "index.parquet").exists() and not list(out.rglob("*.mp4"))  # no work done
    assert not out.exists()  # the folder the run made goes, empty: no settings guard, no work/


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_or_malformed_address_is_one_clear_line(tmp_path, capsys):
    port = _free_port()  # nothing listens there
    args = ["run", LOCAL_YAML, "--input", str(tmp_path), "--output", str(tmp_path / "o"),
            "--connect-timeout", "2", "--address"]
    assert cli.main(args + [f"127.0.0.1:{port}"]) == exits.CLUSTER_UNREACHABLE
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --address 127.0.0.1:{port}: no Ray cluster answers at 127.0.0.1:{port} "
                   "within 2 s (Connection refused); is it started (ray start --head) and is the port open?"]
    assert cli.main(args + ["head-node"]) == exits.USAGE
    assert "expected HOST:PORT" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written before the cluster answered


def test_ray_address_in_the_environment_counts_as_address(tmp_path, capsys, monkeypatch):
    """RAY_ADDRESS (what `ray job submit` sets) names the cluster to join, as --address
    does; the flag wins over it; RAY_ADDRESS=local is a Ray of the run's own."""
    port = _free_port()  # nothing listens there
    args = ["run", LOCAL_YAML, "--input", str(tmp_path), "--output", str(tmp_path / "o"), "--connect-timeout", "1"]
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")
    assert cli.main(args) == exits.CLUSTER_UNREACHABLE
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: RAY_ADDRESS is set (it counts as --address): --address 127.0.0.1:{port}: "
                          f"no Ray cluster answers"), err
    assert cli.main(args + ["--address", "head-node"]) == exits.USAGE  # the flag is checked, not the variable
    assert capsys.readouterr().err.startswith("error: --address head-node: expected HOST:PORT")
    assert not (tmp_path / "o").exists()


def test_a_run_without_an_address_asks_for_a_ray_of_its_own(monkeypatch):
    """Without an address ``ray.init()`` would join a Ray that `ray start` began on this
    machine (and fail on ``ray.num_cpus``); the run asks for ``address="local"``."""
    import pipelines.session as session

    calls = []
    monkeypatch.setattr(session.ray, "init", lambda **kw: calls.append(kw))
    session._init(None, 1, {"include_dashboard": False})
    session._init("10.0.0.5:6379", None, {})
    assert calls[0]["address"] == "local" and calls[0]["num_cpus"] == 1
    assert calls[1]["address"] == "10.0.0.5:6379" and "num_cpus" not in calls[1]


def test_a_bug_deep_in_a_run_is_exit_1_with_a_saved_traceback(tmp_path, capsys, monkeypatch):
    import pipelines.runner

    def broken(*args, **kwargs):
        raise ValueError("a bug, not the user's arguments")

    monkeypatch.setattr(pipelines.runner, "run_pipeline", broken)
    code = cli.main(["run", LOCAL_YAML, "--input", str(tmp_path), "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == exits.INTERNAL and len(err) == 1
    assert err[0].startswith("error: internal error: ValueError: a bug, not the user's arguments")
    path = err[0].split("traceback in ")[1].split(";")[0]
    assert "in broken" in open(path, encoding="utf-8").read()
    os.unlink(path)


def test_every_input_rejected_exits_4_and_keeps_the_outputs(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    (src / "junk.mp4").write_bytes(b"\x00" * 5000)
    (src / "silence.mp4").write_bytes(b"ftyp" * 100)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", LOCAL_YAML, "--input", str(src),
                          "--output", str(out), "--quiet"], capture_output=True, text=True,
                         env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"), timeout=600,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == exits.NOTHING_KEPT, res.stderr[-3000:]
    assert res.stderr.strip().splitlines()[-1] == ("error: no clip kept: every source or clip was "
                                                   "rejected (see rejects.parquet)")
    assert "clips kept: 0" in res.stdout
    assert pq.read_table(out / "rejects.parquet").num_rows == 2
    # its funnel has no source time to share out: the shares are dashes, not 0.0 % of nothing
    # (a new user's walk-through: the "source video" row read 0.0 % of the input)
    assert cli.main(["stats", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = [line for line in lines if line.startswith(("│ source video", "│ probe"))]
    assert len(table) == 3 and all(line.rstrip(" │").endswith(" -") for line in table), lines  # 2 probe reasons


def test_a_ctrl_c_during_the_commands_first_imports_is_exit_130_without_a_traceback(monkeypatch, capsys):
    """main() imports the pipeline config (about a second) before its own try: a Ctrl-C
    there had ended in the import's traceback. A module whose import is interrupted
    stands in for it."""
    import types

    class Interrupted(types.ModuleType):
        def __getattr__(self, name):
            raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "pipelines.config", Interrupted("pipelines.config"))
    assert cli.main(["run", LOCAL_YAML, "--input", "x", "--output", "y"]) == exits.INTERRUPTED == 130
    err = capsys.readouterr().err
    assert err.strip() == "interrupted"


def test_a_cluster_that_refuses_the_driver_is_unreachable_not_an_internal_error(monkeypatch):
    """Token authentication on the cluster and no token here (or another cluster's): Ray's
    AuthenticationError had ended the run as "internal error" with a traceback file (a
    break test); it is exit 6 with one line that says what to set."""
    import ray

    from pipelines import session

    def refused(*args, **kwargs):
        raise ray.exceptions.AuthenticationError("Token authentication is enabled but no authentication "
                                                 "token was found.\nSet RAY_AUTH_TOKEN.")

    monkeypatch.setattr(session, "_init", refused)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with pytest.raises(exits.ClusterUnreachable) as raised:
        session.init_ray("127.0.0.1:6379", None)
    said = str(raised.value)
    assert said.startswith("--address 127.0.0.1:6379: the cluster refused this driver: ") and "\n" not in said
    assert "no authentication token was found" in said and "RAY_AUTH_TOKEN" in said


@pytest.mark.parametrize("address,mode,hint", [("127.0.0.1:6390", None, True), ("127.0.0.1:6390", "token", False),
                                               ("auto", None, False)])
def test_a_named_cluster_that_does_not_answer_says_how_token_auth_is_set(monkeypatch, address, mode, hint):
    """A cluster break test: with the token file there but no RAY_AUTH_MODE=token, Ray 2.60
    sent no token, and the driver ended in "Failed to connect to Ray cluster" (exit 6)."""
    import ray

    from pipelines import session

    def unanswered(*args, **kwargs):
        raise ConnectionError("Failed to connect to Ray cluster at 192.0.2.2:6390.\nmore")

    monkeypatch.setattr(session, "_init", unanswered)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    if mode is None:
        monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    else:
        monkeypatch.setenv("RAY_AUTH_MODE", mode)
    with pytest.raises(exits.ClusterUnreachable) as raised:
        session.init_ray(address, None)
    said = str(raised.value)
    assert said.startswith(f"--address {address}: Failed to connect to Ray cluster at 192.0.2.2:6390.")
    assert ("set RAY_AUTH_MODE=token here too" in said) == hint and "\n" not in said


def test_a_ctrl_c_while_the_report_is_written_says_the_outputs_are_complete(tmp_path, capsys, monkeypatch):
    """A new-user walk-through: a Ctrl-C as report.html was written said "committed sources
    are kept; run the same command again to resume", when only the page was missing."""
    import pipelines.runend
    from support.synth import Shot, shots_video

    src = tmp_path / "in"
    src.mkdir()
    shots_video(str(src / "a.mp4"), [Shot(34, 40)], 160, 120)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipelines.runend, "write_report_safely", interrupted)
    monkeypatch.setattr(exits, "_STOP_NOTE", [])  # the note this run leaves set goes with the test
    out = tmp_path / "out"
    assert cli.main(["run", LOCAL_YAML, "--input", str(src), "--output", str(out), "--quiet"]) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("interrupted: the shards, index.parquet, rejects.parquet and manifest.json are complete; "
                           f"report.html is not: `vidcurate report {out}` writes it"), last
    assert (out / "manifest.json").exists() and not (out / "report.html").exists()
    exits.stop_note(None)
    assert exits.stop_line(None, terminated=False).startswith("interrupted: committed sources are kept")
