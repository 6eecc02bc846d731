"""``vidcurate run`` as a subprocess for the cluster tests, and runs' outputs compared.

:class:`Driver` runs the command with its own empty working folder and HOME and a given
TMPDIR (so a test sees what the driver left on its disk); :func:`read_output` reads a
run's shards, index and rejects back from a store, and :func:`differences` names what
differs between two of them, member by member and field by field.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pyarrow.dataset as pads

RUN_TIMEOUT_S = 300


class Driver:
    """``vidcurate run`` as a subprocess with its own empty cwd and HOME, and TMPDIR ``tmp``."""

    def __init__(self, root: Path, tmp: Path, env: dict[str, str]):
        self.cwd, self.home, self.tmp = root / "cwd", root / "home", tmp
        for d in (self.cwd, self.home, self.tmp):
            d.mkdir(parents=True)
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "AWS_", "FSSPEC_"))}
        self.env = {**clean, **env, "HOME": str(self.home), "TMPDIR": str(self.tmp),
                    "RAY_USAGE_STATS_ENABLED": "0", "PYTHONDONTWRITEBYTECODE": "1"}

    def cmd(self, pipeline: Path, inputs: str, output: str, address: str | None) -> list[str]:
        """The command line of one run."""
        extra = ["--address", address] if address else []
        return [sys.executable, "-m", "pipelines.cli", "run", str(pipeline), "--input", inputs,
                "--output", output, "--quiet", *extra]

    def start(self, *args) -> subprocess.Popen:
        """Start a run (own process group, stdin on /dev/null, output captured)."""
        return subprocess.Popen(self.cmd(*args), cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)

    def run(self, *args) -> str:
        """Run to the end; returns its output, fails the test on a non-zero exit."""
        proc = self.start(*args)
        try:
            out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise
        assert proc.returncode == 0, f"vidcurate run exited {proc.returncode}:\n{out[-4000:]}"
        return out

    def local_files(self) -> list[str]:
        """Files the driver left in its working folder and HOME (it should leave none).

        Library caches under ``HOME/.cache`` (e.g. matplotlib's font list, made once per
        HOME) are disposable like temp files and not counted; empty folders neither.
        """
        cache = self.home / ".cache"
        return sorted(str(p) for d in (self.cwd, self.home) for p in d.rglob("*")
                      if p.is_file() and not p.is_relative_to(cache))


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def read_output(fs, root: str) -> dict:
    """Shard bytes by name, index rows and reject rows (sorted) of a run's output."""
    shards = {Path(p).name: fs.cat_file(p) for p in sorted(fs.glob(f"{root}/shards/shard-*.tar"))}

    def rows(name: str, key) -> list[dict]:
        table = pads.dataset(f"{root}/{name}", filesystem=fs, format="parquet").to_table()
        return sorted(table.to_pylist(), key=key)

    return {"shards": shards,
            "index": rows("index.parquet", lambda r: r["clip_id"]),
            "rejects": rows("rejects.parquet", lambda r: (r["source_path"], r["clip_id"] or "", r["reason"]))}


def _flat(row: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in row.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def differences(got: dict, want: dict) -> list[str]:
    """What differs between two :func:`read_output` results: shard members whose bytes
    differ (by name), index/reject rows and the fields in which they differ."""
    diffs = []
    for name in sorted(set(got["shards"]) | set(want["shards"])):
        a, b = (_members(o["shards"].get(name, b"")) for o in (got, want))
        diffs += [f"{name}:{m} differs" for m in sorted(set(a) | set(b)) if a.get(m) != b.get(m)]
    for table in ("index", "rejects"):
        if len(got[table]) != len(want[table]):
            diffs.append(f"{table}: {len(got[table])} rows, want {len(want[table])}")
        for i, (a, b) in enumerate(zip(map(_flat, got[table]), map(_flat, want[table]))):
            diffs += [f"{table}[{i}].{k}: {a.get(k)!r:.80} != {b.get(k)!r:.80}" for k in sorted(set(a) | set(b))
                      if a.get(k) != b.get(k)]
    return diffs


def _members(tar: bytes) -> dict[str, str]:
    if not tar:
        return {}
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        return {m.name: hashlib.sha256(t.extractfile(m).read()).hexdigest() if m.isfile() else str(m)
                for m in t.getmembers()}
