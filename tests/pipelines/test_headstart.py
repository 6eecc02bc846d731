"""Head start and local passes (pipelines/headstart.py): the driver works on sources while a
local Ray starts, or on a local run without Ray.

The end-to-end tests run the real CLI in child processes (each starts its own local Ray
or none, so the head start happens; the test session's shared Ray would skip it).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time

import pyarrow.parquet as pq
import pytest
import yaml

from curate.tasks import ClipTask
from pipelines.headstart import HeadStart
from support.headstart import StubSteps as _Steps
from support.pipelines import local_dict
from support.synth import Shot, shots_video


def test_takes_the_smallest_sources_first_and_stops_when_told():
    got, first = [], threading.Event()

    def deliver(path, tasks):
        got.append((path, [t.clip_id for t in tasks]))
        first.set()

    steps = _Steps(delay_s=0.2)
    head = HeadStart(steps, "/w", ["big", "mid", "small", "tiny"], deliver).start()
    assert first.wait(10)
    taken = head.stop()  # at most the source in hand is still running
    head.join()
    assert taken == steps.started == [p for p, _ in got]
    assert taken[:2] == ["tiny", "small"][:len(taken)] and 1 <= len(taken) <= 2
    assert got[0] == ("tiny", ["c-tiny"])


def test_an_error_in_the_work_is_raised_by_join_and_ends_the_head_start():
    delivered = []
    head = HeadStart(_Steps(bad="small"), "/w", ["big", "small", "tiny"], lambda p, t: delivered.append(p)).start()
    with pytest.raises(RuntimeError, match="bug on small"):
        head.join()
    assert delivered == ["tiny"] and head.stop() == ["tiny", "small"]  # "big" was never taken


def _pipeline(tmp_path, head_start: bool, local_passes: bool = False, start: str = "when_needed") -> str:
    data = local_dict()
    data["ray"]["head_start"] = head_start
    data["ray"]["local_passes"] = local_passes
    data["ray"]["start"] = start
    for stage in data["stages"]:
        if stage["stage"] == "extract":
            stage["short_side"] = 128
    path = tmp_path / f"head_start_{head_start}_{local_passes}_{start}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _run(pipeline: str, src, out) -> dict:
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", pipeline, "--input", str(src),
                           "--output", str(out), "--quiet"], env=env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    shards = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "shards").glob("*.tar")}
    return {"index": pq.read_table(out / "index.parquet").to_pylist(),
            "rejects": sorted((r["source_path"], r["reason"], r["clip_id"] or "")
                              for r in pq.read_table(out / "rejects.parquet").to_pylist()),
            "shards": shards, "taken": manifest["timings"]["head_start_sources"], "ray": manifest["timings"]["ray"],
            "sources": manifest["counts"]["sources"]}


def test_a_run_with_a_head_start_writes_what_a_run_without_it_writes(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):  # small sources for the head start, one larger one in front of Ray's queue
        shots_video(str(src / f"s{i}.mp4"), [Shot(30 + i, 30), Shot(40 + i, 35)], 192, 144)
    shots_video(str(src / "big.mp4"), [Shot(60, 90), Shot(61, 90), Shot(62, 80)], 320, 240)
    (src / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 300)  # a reject row either way
    with_head = _run(_pipeline(tmp_path, True), src, tmp_path / "with")
    local = _run(_pipeline(tmp_path, True, local_passes=True, start="always"), src, tmp_path / "local")
    no_ray = _run(_pipeline(tmp_path, True, local_passes=True), src, tmp_path / "no_ray")  # ray.start: when_needed
    without = _run(_pipeline(tmp_path, False, local_passes=True), src, tmp_path / "without")  # head_start off: both off
    assert without["taken"] == 0 and with_head["taken"] >= 1 and local["taken"] == no_ray["taken"] == 7
    assert with_head["ray"] and local["ray"] and without["ray"] and not no_ray["ray"]
    assert with_head["sources"] == local["sources"] == no_ray["sources"] == without["sources"] == 7
    assert len(with_head["index"]) >= 10
    for run in (with_head, local, no_ray):
        assert run["index"] == without["index"]
        assert run["rejects"] == without["rejects"] and any(r[0].endswith("broken.mp4") for r in run["rejects"])
        assert run["shards"] == without["shards"]


def test_a_source_handed_over_after_the_run_ended_is_not_committed(tmp_path):
    from pipelines.commits import SourceCommits
    from pipelines.progress import Progress
    from pipelines.workstore import WorkStore

    def task(path, k, n):
        return ClipTask(source=None, span=None, clip_id=f"{path}-{k}", work_dir="", source_path=path, n_in_source=n)

    with WorkStore(str(tmp_path), {"split": {}}) as ws:
        commits = SourceCommits(ws, Progress(enabled=False))
        with commits.closing():
            commits.add(task("/in/a.mp4", 0, 2))
            assert not ws.done("/in/a.mp4")  # one of its two clips is back
            commits.add(task("/in/a.mp4", 1, 2))
            commits.deliver("/in/b.mp4", [task("/in/b.mp4", 0, 1)])  # the head start's thread
        commits.deliver("/in/c.mp4", [task("/in/c.mp4", 0, 1)])  # in hand when the run failed
        assert ws.done("/in/a.mp4") and ws.done("/in/b.mp4") and not ws.done("/in/c.mp4")


def test_a_run_that_fails_after_ray_starts_stops_the_head_start_work(tmp_path):
    """A pipeline Ray cannot place (exit 7, found once Ray is up) while the head start is
    inside a source: its sandbox child is killed with the run and nothing more is written."""
    import psutil

    from support.synth import render, write_video

    src = tmp_path / "in"
    src.mkdir()
    loop = [render(49, k / 25, 320, 240, pan=(0.06, 0.0)) for k in range(100)]
    write_video(str(src / "long.mp4"), (loop[k % 100] for k in range(5000)))  # 200 s: still in hand
    data = local_dict()
    data["ray"]["start"] = "always"  # a local Ray: the check comes once it is up (without Ray: before any work)
    for stage in data["stages"]:
        if stage["stage"] == "filter":
            stage["resources"] = {"cpus": 64}
    pipeline = tmp_path / "too_big.yaml"
    pipeline.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", str(pipeline), "--input", str(src),
                             "--output", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True)
    seen: set[int] = set()
    while proc.poll() is None:
        try:
            seen |= {c.pid for c in psutil.Process(proc.pid).children(recursive=True)
                     if "curate.sandbox" in " ".join(c.cmdline())}
        except psutil.Error:
            pass
        time.sleep(0.05)
    text = proc.stdout.read()
    assert proc.returncode == 7, text[-2000:]
    assert seen, "the head start ran no sandbox"
    alive = [p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not alive, "a sandbox child of the run outlived it"
    files = lambda: sorted(p.name for p in (out / "work").rglob("*") if p.is_file())  # noqa: E731
    now = files()
    time.sleep(2)
    assert files() == now
    assert not list((out / "work" / "sources").glob("*.json"))  # in hand when the run failed: not committed


def test_sandboxes_are_prestarted_only_where_a_head_start_can_follow():
    """One child per memory bound (probe 1024 MB, the pass max(split, extract) = 2048 MB),
    none with --address, with ray.head_start off or with extract off the one-decode path."""
    from curate import guard
    from pipelines.headstart import prestart_sandboxes
    from support.pipelines import make_pipeline

    limits = {"probe": {"limits": {"memory_mb": 1024}}, "split": {"limits": {"memory_mb": 2048}},
              "extract": {"limits": {"memory_mb": 512}}}
    guard.close_all()
    try:
        assert prestart_sandboxes(make_pipeline(limits), None) is True
        assert sorted(guard._SANDBOXES) == [1024, 2048]
        guard.close_all()
        assert prestart_sandboxes(make_pipeline(limits), "ray://head:10001") is False
        off = make_pipeline(limits).model_copy(update={"ray": make_pipeline().ray.model_copy(update={"head_start": False})})
        assert prestart_sandboxes(off, None) is False
        assert prestart_sandboxes(make_pipeline({"extract": {"one_pass": False}}), None) is False
        assert guard._SANDBOXES == {}
    finally:
        guard.close_all()


def test_a_run_with_nothing_to_do_closes_the_prestarted_child_before_ray_starts(ray_session, tmp_path, monkeypatch):
    """A resumed run (every source committed) makes no head start: the child the CLI
    started for one is stopped then, not left idle for the whole run."""
    from curate import guard
    from pipelines import runner as runner_mod
    from pipelines import session
    from support.pipelines import make_pipeline

    src = tmp_path / "in"
    src.mkdir()
    shots_video(str(src / "a.mp4"), [Shot(30, 30), Shot(40, 35)], 192, 144)
    pipeline = make_pipeline()
    out = tmp_path / "out"
    runner_mod.run_pipeline(pipeline, [str(src)], str(out), progress=False)  # the shared Ray: no head start
    guard.prestart(4096)
    child = guard._SANDBOXES[4096].proc
    seen = []
    monkeypatch.setattr(session, "init_ray", lambda *a, **k: seen.append(child.poll()) or False)  # run() imports it
    summary = runner_mod.run_pipeline(pipeline, [str(src)], str(out), progress=False)
    assert summary.resumed == 1 and seen and seen[0] is not None  # stopped before Ray was asked for


def test_the_head_start_needs_no_ray_import():
    """The row functions, the head start and the runner's module import neither Ray nor
    Ray Data (nor SciPy with the pipeline's config): the head start's first source begins
    while the driver imports them (pipelines/rows.py)."""
    code = ("import sys, pipelines.config, pipelines.rows, pipelines.headstart, pipelines.runner; "
            "print(sorted(m for m in ('ray', 'ray.data', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_a_local_run_of_plain_cpu_steps_starts_no_ray(tmp_path):
    """``ray.start: when_needed`` (the shipped pipelines): a local run whose steps are all
    plain CPU steps imports no Ray at all and writes its output (the same bytes as with Ray:
    test_a_run_with_a_head_start_writes_what_a_run_without_it_writes); a stage asking for
    more CPUs than this machine has is exit 7 before any source is done."""
    src = tmp_path / "in"
    src.mkdir()
    shots_video(str(src / "a.mp4"), [Shot(30, 30), Shot(31, 35)], 192, 144)
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    code = ("import sys; from pipelines.cli import main; "
            f"code = main(['run', {_pipeline(tmp_path, True, local_passes=True)!r}, '--input', {str(src)!r}, "
            f"'--output', {str(tmp_path / 'out')!r}, '--quiet']); "
            "print('RESULT', code, sorted(m for m in ('ray', 'ray.data') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RESULT 0 []" in proc.stdout, proc.stdout[-2000:]
    assert pq.read_table(tmp_path / "out" / "index.parquet").num_rows == 2
    data = local_dict()
    for stage in data["stages"]:
        if stage["stage"] == "filter":
            stage["resources"] = {"cpus": 64}
    big = tmp_path / "too_big.yaml"
    big.write_text(yaml.safe_dump(data))
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", str(big), "--input", str(src),
                           "--output", str(tmp_path / "out2")], env=env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 7, proc.stderr[-2000:]
    assert "stage filter asks for 64 CPU per worker, but this machine has " in proc.stderr
    assert not list((tmp_path / "out2").glob("work/sources/*.json"))


@pytest.mark.parametrize("argv,env,spare", [
    (["run", "pipelines/local.yaml", "--input", "in", "--output", "out"], "", True),
    (["run", "p.yaml", "--input", "in", "--output", "out", "--address", "ray://h:10001"], "", False),
    (["run", "p.yaml", "--input", "in", "--output", "out", "--addr=h:6379"], "", False),  # argparse's prefix
    (["run", "p.yaml", "--input", "in", "--output", "out"], "ray://h:10001", False),
    (["validate", "p.yaml"], "", False),
])
def test_a_spare_sandbox_is_started_only_for_a_run_on_its_own_ray(monkeypatch, argv, env, spare):
    from curate import guard
    from pipelines.cli import _spare_sandbox

    monkeypatch.setenv("RAY_ADDRESS", env)
    guard.close_all()
    try:
        _spare_sandbox(argv)
        assert (None in guard._SANDBOXES) is spare
    finally:
        guard.close_all()
