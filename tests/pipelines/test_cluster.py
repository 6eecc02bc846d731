"""A real two-node Ray cluster and a real S3 server: the same output as one local run.

The cluster (tests/support/cluster.py) has two one-CPU nodes that share no folder: the
second lives in its own mount namespace, so a local path handed from one process to
another fails here as it would across machines. Sources and outputs live only in a
bucket of moto's S3 server on loopback (tests/support/s3.py). ``vidcurate run`` runs
as a subprocess with ``--address`` (the session Ray of tests/conftest.py is never
touched), from an empty working folder with an empty HOME, and its output is compared
with a local run's (both: tests/support/cluster_runs.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from support.cluster import LocalCluster, _monitor_alive, _namespace_view, _task_names, can_isolate, start_cluster
from support.cluster_runs import RUN_TIMEOUT_S, Driver, _kill, differences, read_output
from support.pipelines import TEST_OVERRIDES, local_dict
from support.s3 import S3Server, s3  # noqa: F401 - the module-scoped S3 fixture
from support.synth import Shot, shots_video

# Three sources, 2 + 2 + 2 clips (the last: one 6 s shot cut into 2 windows <= 4 s);
# b.mp4's second shot is a.mp4's first again: one planted near-duplicate.
SOURCES = {
    "a.mp4": [Shot(61, 40), Shot(62, 45, pan=(0.1, 0.0))],
    "b.mp4": [Shot(65, 45, pan=(0.0, 0.1)), Shot(61, 40)],
    "c.mp4": [Shot(67, 150, pan=(0.08, 0.0))],
}
N_KEPT = 5
# Where per-clip work runs in the per-source plan (pipelines/plan.py): inside the one-decode
# pass, which extracts each clip and runs the fused CPU stages (score, embed, filter) on it,
# and in the stage maps from extract on (fused by Ray Data with the final ``_strip`` map),
# which pass such clips on and run what is left.
PASS_TASK = "FlatMap(SplitExtract)"
CLIP_TASK = "Map(_strip)"


@pytest.fixture(scope="module")
def inputs(s3: S3Server, tmp_path_factory) -> str:
    """The sources, written locally and uploaded to ``s3://<bucket>/in/``; the input URL."""
    local = tmp_path_factory.mktemp("sources")
    fs = s3.fs()
    for name, shots in SOURCES.items():
        shots_video(str(local / name), shots, 192, 144)
        fs.put_file(str(local / name), f"{s3.bucket}/in/{name}")
    return s3.url("in") + "/"


@pytest.fixture(scope="module")
def pipeline_file(tmp_path_factory) -> Path:
    """pipelines/local.yaml with the end-to-end test overrides, as a YAML file."""
    data = local_dict()
    for stage in data["stages"]:
        stage.update(TEST_OVERRIDES.get(stage["stage"], {}))
    path = tmp_path_factory.mktemp("pipeline") / "test.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def short_tmp():
    """A temporary folder with a short path (Ray's socket paths must fit in 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="vc-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def reference(s3: S3Server, inputs: str, pipeline_file: Path, short_tmp: Path, tmp_path_factory) -> dict:
    """A single-node local run (its own local Ray) of the same inputs into a local folder."""
    import fsspec

    root = tmp_path_factory.mktemp("reference")
    out = root / "out"
    Driver(root / "driver", short_tmp / "ref", s3.env).run(pipeline_file, inputs, str(out), None)
    result = read_output(fsspec.filesystem("file"), str(out))
    assert len(result["index"]) == N_KEPT and result["shards"]
    assert [r["reason"] for r in result["rejects"]] == ["duplicate"]
    return result


@pytest.fixture(scope="module")
def cluster(s3: S3Server, reference, short_tmp: Path, tmp_path_factory):
    """Two one-CPU nodes that share no folder, both reaching the bucket (checked)."""
    if not can_isolate():
        pytest.skip("nodes that share no folder need unshare --mount (root or CAP_SYS_ADMIN)")
    s3.fs().pipe_file(f"{s3.bucket}/probe.txt", b"bucket reachable")
    c = start_cluster(short_tmp / "cluster", s3.env, num_nodes=2,
                      hide=[short_tmp, tmp_path_factory.getbasetemp()])
    try:
        seen = c.probe(s3.url("probe.txt"))
        for node, info in zip(c.nodes, sorted(seen, key=lambda i: i["tmpdir"] != str(c.nodes[0].scratch))):
            assert info["tmpdir"] == str(node.scratch) and info["read"] == "bucket reachable"
            node.node_id = info["node_id"]
        assert len({n.node_id for n in c.nodes}) == 2
        yield c
    finally:
        c.stop()


def test_cluster_fixture_nodes_share_no_folder(cluster: LocalCluster):
    head, other = cluster.nodes
    assert not other.scratch.exists()  # the second node's folders live only in its namespace
    view = _namespace_view(other)
    assert (view / str(other.scratch).lstrip("/")).is_dir()
    assert not (view / str(head.scratch).lstrip("/")).exists()  # and it cannot see the head's


def test_two_nodes_and_s3_give_the_local_output(cluster: LocalCluster, s3: S3Server, inputs: str,
                                                pipeline_file: Path, reference: dict, tmp_path):
    driver = Driver(tmp_path / "driver", cluster.root / "d1", {**s3.env, **cluster.client_env})
    out = s3.url("out-clean")
    driver.run(pipeline_file, inputs, out, cluster.address)

    got = read_output(s3.fs(), f"{s3.bucket}/out-clean")
    diffs = differences(got, reference)
    assert not diffs, "output differs from the single-node local run:\n" + "\n".join(diffs)
    assert got == reference  # byte for byte (shard headers too), row for row
    assert driver.local_files() == []  # nothing on the driver's disk but temp
    for node in cluster.nodes:  # per-clip work (extract ... filter) ran on both nodes
        names = _task_names(node)
        clip_work = [n for n in names if n.endswith(PASS_TASK) or (n.endswith(CLIP_TASK) and "Map(_Apply)" in n)]
        assert clip_work, f"no per-clip task ran on {node.name}; its tasks: {sorted(set(names))}"
    # a run that joined the cluster leaves it as it was (only a local Ray of its own is stopped)
    assert _monitor_alive(cluster.nodes[0]), "the run stopped the cluster's autoscaler monitor"
    # and uses Ray Data's own services there (pipelines/lean.py swaps them out only on a
    # local Ray the run starts itself)
    actors = [a for node in cluster.nodes for a in _task_names(node, ":actor_name:")]
    assert {"_StatsActor", "_AutoscalingCoordinatorActor"} <= set(actors), actors


def test_a_local_output_folder_the_other_node_cannot_see_is_refused(
        cluster: LocalCluster, s3: S3Server, inputs: str, pipeline_file: Path, tmp_path):
    driver = Driver(tmp_path / "driver", cluster.root / "d3", {**s3.env, **cluster.client_env})
    proc = driver.start(pipeline_file, inputs, str(tmp_path / "out"), cluster.address)
    out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    # before: the per-source phase ran, then write_shard failed on the other node (exit 1,
    # an internal error with a remote traceback)
    assert proc.returncode == 2, out[-3000:]
    assert "is a local folder that 1 of 2 cluster nodes cannot see" in out and "Traceback" not in out
    assert not (tmp_path / "out" / "work" / "sources").exists() or \
        not os.listdir(tmp_path / "out" / "work" / "sources")  # refused before any source ran


def test_local_sources_the_nodes_cannot_see_are_refused(cluster: LocalCluster, s3: S3Server, pipeline_file: Path,
                                                        tmp_path):
    """Local source files on the driver's disk only: the nodes' probe had made each a
    committed not_found row, which a rerun took as done, and the run exited 0 (break test)."""
    folder = tmp_path / "in"  # a node hides this test's temporary folders
    folder.mkdir()
    name, shots = next(iter(SOURCES.items()))
    shots_video(str(folder / name), shots, 192, 144)
    driver = Driver(tmp_path / "driver", cluster.root / "d4", {**s3.env, **cluster.client_env})
    out = s3.url("out-local-inputs")
    proc = driver.start(pipeline_file, str(folder), out, cluster.address)
    text, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 2, text[-3000:]
    # the node that cannot see the folder (as for a local --output, the other one does)
    assert f"local source files such as {folder / name} are not visible to 1 of 2 cluster nodes" in text
    assert not s3.fs().exists(f"{s3.bucket}/out-local-inputs/work/sources")  # refused before any source ran


def test_second_node_killed_mid_run_then_rerun_gives_the_same_output(  # last: it kills a node
        cluster: LocalCluster, s3: S3Server, inputs: str, pipeline_file: Path, reference: dict, tmp_path):
    driver = Driver(tmp_path / "driver", cluster.root / "d2", {**s3.env, **cluster.client_env})
    fs, out = s3.fs(), s3.url("out-killed")
    args = (pipeline_file, inputs, out, cluster.address)
    victim = cluster.nodes[1]
    before = len(_task_names(victim))
    proc = driver.start(*args)
    deadline = time.time() + RUN_TIMEOUT_S
    # Kill as soon as the victim has started tasks of this run (a local log read, fast),
    # not when a commit shows up in the bucket (a slow listing on a loaded machine let
    # every source commit before the first listing came back).
    while time.time() < deadline and proc.poll() is None and len(_task_names(victim)) == before:
        time.sleep(0.05)
    started_there = len(_task_names(victim)) - before
    victim.signal(signal.SIGKILL)  # the whole node at once: raylet, workers, agents
    victim.proc.wait()
    commits = fs.glob(f"{s3.bucket}/out-killed/work/sources/*.json")
    assert started_there > 0, "the killed node should have been working on this run"
    assert len(commits) < len(SOURCES), f"the kill should land mid-run ({len(commits)} committed)"
    assert not fs.exists(f"{s3.bucket}/out-killed/manifest.json")
    try:  # Ray may finish on the head alone, or fail
        log, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
        print(f"run with the node killed: exit {proc.returncode}; {log.strip().splitlines()[-1:]}")
    except subprocess.TimeoutExpired:
        _kill(proc)
        print("run with the node killed: still running after the time limit, killed")
    assert not victim.pids()

    driver.run(*args)  # the same command again
    got = read_output(s3.fs(), f"{s3.bucket}/out-killed")
    diffs = differences(got, reference)
    assert not diffs, "output differs from the single-node local run:\n" + "\n".join(diffs)
    assert got == reference
    assert driver.local_files() == []
