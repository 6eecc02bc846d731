"""A real multi-node Ray cluster on one machine for tests, nodes that share no disk.

Each node is its own ``ray start --block`` process group (so the test stops it, or
kills it mid-run, by process group id and never touches another Ray on the machine),
with one CPU, its own ``--temp-dir`` and its own scratch folder (``TMPDIR``, which the
raylet's workers inherit). Every node after the head runs in a private mount namespace
(``unshare --mount``) with empty tmpfs mounts over the given temporary folders (those
that hold the head's, the driver's and the test's folders; never the repository or the
Python environment): it cannot see any of them, and nobody outside sees its own. So a pipeline that passes a local path from one process to another fails
here as it would on a real cluster. Needs root (or CAP_SYS_ADMIN) for ``unshare``.

The cluster uses token authentication with its own token (``RAY_AUTH_MODE=token``,
``RAY_AUTH_TOKEN``), passed to every node and, through :attr:`LocalCluster.client_env`,
to drivers, so nothing depends on a token file in the user's HOME.

``ray stop`` is never used: it stops every Ray process of the user, including the
session Ray of ``tests/conftest.py``.

A test looks inside a node with :func:`_namespace_view` (its files as its processes see
them), :func:`_task_names` (the tasks and actors its workers ran) and
:func:`_monitor_alive` (whether its autoscaler monitor still runs).
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.s3 import free_port

RAY = str(Path(sys.executable).with_name("ray"))
REPO = Path(__file__).resolve().parents[2]
OBJECT_STORE_BYTES = 200 * 1024 * 1024

# sh -c script: $1 = how many folders to hide, then those folders, then the node's
# temp dir and scratch (created inside the new mounts), then the command to exec.
_PRIVATE = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do mount -t tmpfs -o size=2g vidcurate-node "$1" || exit 1; '
    'shift; n=$((n - 1)); done; mkdir -p "$1" "$2" && shift 2 && exec "$@"'
)

_PROBE = r"""
import json, sys, tempfile, time, ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
ray.init(address=sys.argv[1], include_dashboard=False, log_to_driver=False, logging_level="ERROR")
want, url = int(sys.argv[2]), sys.argv[3]
@ray.remote(num_cpus=0)
def where(url):
    import fsspec
    with fsspec.open(url, "rb") as f:
        seen = f.read().decode()
    return {"node_id": ray.get_runtime_context().get_node_id(), "tmpdir": tempfile.gettempdir(), "read": seen}
deadline = time.time() + 60
while len([n for n in ray.nodes() if n["Alive"]]) < want and time.time() < deadline:
    time.sleep(0.5)
alive = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
out = [ray.get(where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)).remote(url))
       for n in alive]
print(json.dumps(out))
"""


@dataclass
class RayNode:
    """One ``ray start --block`` node: ``temp_dir`` (Ray's session files), ``scratch`` (its TMPDIR)."""

    name: str
    proc: subprocess.Popen
    temp_dir: Path
    scratch: Path
    private: bool
    log: Path
    node_id: str = ""

    def pids(self) -> set[int]:
        """Live processes of the node (its process group; Ray's children stay in it)."""
        found = set()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.getpgid(int(entry)) == self.proc.pid and _state(int(entry)) != "Z":
                        found.add(int(entry))
                except (ProcessLookupError, PermissionError):
                    continue
        return found

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the whole node (its process group)."""
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM (``ray start --block`` shuts its processes down), then SIGKILL what is left."""
        self.signal(signal.SIGTERM)
        deadline = time.time() + grace_s
        while self.pids() and time.time() < deadline:
            time.sleep(0.2)
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        deadline = time.time() + 30
        while self.pids() and time.time() < deadline:  # killed processes take a moment to go
            time.sleep(0.1)


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@dataclass
class LocalCluster:
    """A Ray cluster of ``ray start`` nodes on this machine (see module docstring).

    ``root``: a folder for the nodes' files (temp dir, scratch, logs), with a short path:
    Ray's socket paths under it must stay within 107 bytes. ``hide``: folders that later
    nodes see as empty tmpfs mounts (default: ``root``; add the test's and the driver's
    temporary folders). ``env``: extra environment for every node (e.g. S3 endpoint and
    credentials).
    """

    root: Path
    env: dict[str, str]
    hide: list[Path] = field(default_factory=list)
    nodes: list[RayNode] = field(default_factory=list)
    port: int = 0
    dashboard_port: int = 0
    token: str = field(default_factory=lambda: secrets.token_hex(32))

    @property
    def address(self) -> str:
        """The GCS address to pass as ``--address``."""
        return f"127.0.0.1:{self.port}"

    @property
    def client_env(self) -> dict[str, str]:
        """What a driver needs besides ``--address``: token auth mode and the cluster's token."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token, "RAY_USAGE_STATS_ENABLED": "0"}

    def _node_env(self, scratch: Path) -> dict[str, str]:
        """The test's environment without Ray, store and import-path settings, plus the
        cluster's (a ``tests/`` entry on PYTHONPATH would shadow the ``schemas`` package)."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RAY_", "AWS_", "FSSPEC_")) and k != "PYTHONPATH"}
        return {**env, **self.env, **self.client_env, "TMPDIR": str(scratch)}

    def add_node(self) -> RayNode:
        """Start the head (first call) or one more node in a private mount namespace."""
        head = not self.nodes
        name = "head" if head else f"node{len(self.nodes)}"
        base = self.root / name
        temp_dir, scratch, log = base / "ray", base / "scratch", self.root / f"{name}.log"
        self.root.mkdir(parents=True, exist_ok=True)
        if head:
            self.port, self.dashboard_port = free_port(), free_port()
            role = ["--head", f"--port={self.port}", "--include-dashboard=false",
                    f"--dashboard-port={self.dashboard_port}"]
        else:
            role = [f"--address={self.address}"]
        cmd = [RAY, "start", "--block", *role, "--num-cpus=1", "--num-gpus=0", f"--temp-dir={temp_dir}",
               "--node-ip-address=127.0.0.1", f"--object-store-memory={OBJECT_STORE_BYTES}",
               "--disable-usage-stats", f"--dashboard-agent-listen-port={free_port()}"]
        if head:
            temp_dir.mkdir(parents=True)
            scratch.mkdir(parents=True)
        else:  # empty tmpfs mounts over the shared temporary folders, then its own folders
            hide = self.hide or [self.root]
            cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _PRIVATE, "vidcurate-node",
                   str(len(hide)), *map(str, hide), str(temp_dir), str(scratch), *cmd]
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, env=self._node_env(scratch), stdin=subprocess.DEVNULL, cwd=self.root,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        node = RayNode(name, proc, temp_dir, scratch, private=not head, log=log)
        self.nodes.append(node)
        return node

    def probe(self, url: str) -> list[dict]:
        """Wait until every node is up, then run one task pinned to each node that reads
        ``url`` through fsspec; returns ``[{node_id, tmpdir, read}]``, one per alive node."""
        env = self._node_env(self.root)
        proc = subprocess.run([sys.executable, "-c", _PROBE, self.address, str(len(self.nodes)), url],
                              env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=180, cwd=self.root)
        if proc.returncode != 0:
            raise RuntimeError(f"cluster probe failed:\n{proc.stderr[-3000:]}\n{self.logs()}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def logs(self) -> str:
        """The tail of each node's ``ray start`` output (for failure messages)."""
        return "\n".join(f"--- {n.name}\n{n.log.read_text(errors='replace')[-1500:]}" for n in self.nodes)

    def stop(self) -> None:
        """Stop every node (workers first, then the head) and check none of their processes is left."""
        for node in reversed(self.nodes):
            node.stop()
        left = {n.name: n.pids() for n in self.nodes if n.pids()}
        assert not left, f"processes left after stopping the cluster: {left}"


def can_isolate() -> bool:
    """True when this process may give a node a private mount namespace (``unshare --mount``)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           stdin=subprocess.DEVNULL, capture_output=True)
    return probe.returncode == 0


def start_cluster(root: Path, env: dict[str, str], num_nodes: int = 2,
                  hide: list[Path] | None = None) -> LocalCluster:
    """Start ``num_nodes`` one-CPU nodes (see :class:`LocalCluster`); the caller stops it."""
    if not can_isolate():
        raise RuntimeError("nodes that share no folder need unshare --mount (root or CAP_SYS_ADMIN)")
    cluster = LocalCluster(root=root, env=env)
    paths = [p.resolve() for p in [root, *(hide or [])]]
    for path in paths:  # the nodes must still see the code and the interpreter
        if any(Path(need).resolve().is_relative_to(path) for need in (REPO, sys.prefix)):
            raise ValueError(f"cannot hide {path}: it holds the repository or the Python environment")
    # a folder inside another hidden one is hidden already
    cluster.hide = [p for p in paths if not any(p != q and p.is_relative_to(q) for q in paths)]
    try:
        for _ in range(num_nodes):
            cluster.add_node()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _namespace_view(node: RayNode) -> Path:
    """The filesystem as the node's processes see it (``/proc/<pid>/root``)."""
    return Path(f"/proc/{node.proc.pid}/root")


def _task_names(node: RayNode, tag: str = ":task_name:") -> list[str]:
    """Names of the Ray tasks this node's workers started (Ray logs ``:task_name:<name>``;
    ``tag=":actor_name:"``: the actors' classes)."""
    root = str(_namespace_view(node)) if node.private else ""
    names = []
    for log in glob.glob(f"{root}{node.temp_dir}/session_2*/logs/worker-*.err"):
        with open(log, encoding="utf-8", errors="replace") as f:
            names += [line.split(tag, 1)[1].strip() for line in f if tag in line]
    return names


def _monitor_alive(node: RayNode) -> bool:
    """Whether the node's autoscaler monitor (``ray/autoscaler/.../monitor.py``) is running."""
    for pid in node.pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"/autoscaler/" in cmdline and b"monitor.py" in cmdline:
            return True
    return False
