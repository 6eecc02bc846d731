"""The Ray session of a run (pipelines/session.py): a local Ray starts without the head
processes nothing reads and stops in the right order; a Ctrl-C while it starts is held
back, and lean_head hooks ray.init only inside its block.

Runs in a child interpreter: the test session's own Ray (tests/conftest.py) must stay up.
The real command stopped by a signal: test_stopped_runs.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Starts a local Ray like a run (argv[1] "run") or with Ray's own defaults ("plain"),
# records the state of the autoscaler monitor (if any) each time Ray stops one of its
# processes, then reports which started processes outlive the shutdown.
_SCRIPT = r"""
import json, os, sys, time
import psutil, ray
import ray._private.node as node_mod
from pipelines.session import init_ray, shutdown_ray

if sys.argv[1] == "run":
    assert init_ray(None, 1) is True
else:
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
node = ray._private.worker._global_node
kinds = sorted(kind for kind, procs in node.all_processes.items() if procs)
monitor = node.all_processes["monitor"][0].process if "monitor" in kinds else None
events, original = [], node_mod.Node._kill_process_type

def spy(self, process_type, *args, **kwargs):
    events.append([process_type, monitor is not None and monitor.poll() is None])
    return original(self, process_type, *args, **kwargs)

node_mod.Node._kill_process_type = spy

@ray.remote(num_cpus=1)
def pid():
    return os.getpid()

worker = ray.get(pid.remote())
started = [p.pid for p in psutil.Process().children(recursive=True)]
shutdown_ray()
deadline = time.time() + 15
alive = started
while alive and time.time() < deadline:
    alive = [p for p in started if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    time.sleep(0.1)
print(json.dumps({"events": events, "alive": alive, "worker": worker in started,
                  "connected": ray.is_initialized(), "kinds": kinds}))
"""


def _session(tmp_path, mode: str) -> dict:
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, mode], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_runs_local_ray_has_no_monitors_runs_tasks_and_leaves_no_process(tmp_path):
    got = _session(tmp_path, "run")
    assert not {"monitor", "log_monitor"} & set(got["kinds"]), got["kinds"]
    assert "dashboard" in got["kinds"]  # it serves the state API: see pipelines/lean.py
    assert {"gcs_server", "raylet"} <= set(got["kinds"]), got["kinds"]
    assert got["worker"], "the task ran in a worker this Ray started"
    assert got["alive"] == [], f"processes left after shutdown_ray: {got['alive']}"
    assert got["connected"] is False
    # Ray's own start has both (if it stops starting them, lean_head can go)
    plain = _session(tmp_path, "plain")
    assert {"monitor", "log_monitor"} <= set(plain["kinds"]), plain["kinds"]


def test_local_ray_stops_its_monitor_before_the_gcs_and_leaves_no_process(tmp_path):
    """A local Ray with an autoscaler monitor (Ray's default; a run's own has none)."""
    got = _session(tmp_path, "plain")
    stopped = dict((kind, alive) for kind, alive in got["events"])
    # The monitor goes first: stopped after the GCS, its SIGTERM handler waits on the GCS
    # that is gone and is killed a second later (ray.shutdown alone: 1.35 s, now 0.35 s).
    assert got["events"][0] == ["monitor", True]
    assert stopped["gcs_server"] is False and stopped["raylet"] is False
    assert got["worker"], "the task ran in a worker this Ray started"
    assert got["alive"] == [], f"processes left after shutdown_ray: {got['alive']}"
    assert got["connected"] is False


def test_a_ctrl_c_while_ray_starts_is_held_back_until_the_block_ends():
    import signal
    import time

    from pipelines.session import sigint_deferred

    before = signal.getsignal(signal.SIGINT)
    calls = []
    with sigint_deferred(lambda: calls.append(len(calls))) as got:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # no KeyboardInterrupt in here
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)
        assert got == [signal.SIGINT, signal.SIGINT] and calls == [0]  # on_signal once, at the first
    assert signal.getsignal(signal.SIGINT) is before
    with sigint_deferred() as quiet:
        pass
    assert quiet == []


def test_lean_head_hooks_ray_init_only_inside_its_block():
    import ray._private.node as node_mod

    from pipelines.lean import lean_head

    original = node_mod.Node.__init__
    with lean_head() as hooked:
        assert hooked is True and node_mod.Node.__init__ is not original
    assert node_mod.Node.__init__ is original
    try:
        with lean_head():
            raise KeyboardInterrupt  # a Ctrl-C inside ray.init
    except KeyboardInterrupt:
        pass
    assert node_mod.Node.__init__ is original
