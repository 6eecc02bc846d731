"""Ray Data on a local Ray without its stats actor and autoscaling coordinator
(:mod:`pipelines.lean`): the same rows, no such actor; outside the block, Ray Data's own
services are back. A fresh Ray in a subprocess: the tests' shared Ray already has the actors."""

import json
import os
import subprocess
import sys

SCRIPT = """
import json, ray
from pipelines.lean import local_data_services
from pipelines.session import init_ray, owns_local_ray, shutdown_ray

def run():
    ds = ray.data.from_items([{"x": i} for i in range(6)]).map(lambda r: {"x": r["x"] * 3})
    return sorted(r["x"] for r in ds.iter_rows())

def actors():
    return sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True))

init_ray(None, 1)
owns = owns_local_ray()
with local_data_services() as swapped:
    lean_rows, lean_actors = run(), actors()
off_rows, off_actors = run(), actors()
with local_data_services(enabled=False) as disabled:
    pass
shutdown_ray()
print(json.dumps({"owns": owns, "swapped": swapped, "disabled": disabled, "lean_rows": lean_rows, "lean_actors": lean_actors,
                  "off_rows": off_rows, "off_actors": off_actors}))
"""


def test_a_local_ray_runs_datasets_without_ray_datas_cluster_actors():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=240,
                         env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"))
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["owns"] is True and got["swapped"] is True and got["disabled"] is False
    assert got["lean_rows"] == got["off_rows"] == [0, 3, 6, 9, 12, 15]
    assert got["lean_actors"] == []
    # Without the swap Ray Data starts both (if it stops doing so, pipelines/lean.py can go)
    assert any("stats" in name.lower() for name in got["off_actors"]), got["off_actors"]
    assert "AutoscalingCoordinator" in got["off_actors"], got["off_actors"]
