"""Scratch folders named after their owner: a later process removes those of dead owners, only those."""

import os
import subprocess
import sys

import pytest

from curate import child, scratch
from curate.guard import Limits, close_all, run_limited
from support import guarded

_MAKE = ("import sys\nfrom curate.scratch import owned_dir\n"
         "print(owned_dir(sys.argv[1], sys.argv[2]), flush=True)\n")


def _dead_owners_folder(kind, parent):
    """A folder made by a process that has exited (its pid is free, its folder stays)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", _MAKE, kind, str(parent)], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def test_a_folder_names_its_host_and_process():
    path = scratch.owned_dir("clips")
    try:
        assert os.path.basename(path).startswith(f"vidcurate-clips-{scratch.host_tag()}-{os.getpid()}-")
    finally:
        os.rmdir(path)
    with pytest.raises(ValueError, match="unknown scratch kind"):
        scratch.owned_dir("spill")


def test_sweep_removes_only_dead_processes_folders_of_this_host(tmp_path):
    dead = [_dead_owners_folder(kind, tmp_path) for kind in scratch.KINDS]
    with open(os.path.join(dead[0], "frames.yuv"), "wb") as f:
        f.write(bytes(1024))
    mine = scratch.owned_dir("sandbox", str(tmp_path))
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        others = [tmp_path / f"vidcurate-clips-{scratch.host_tag()}-{live.pid}-abc",  # a live owner
                  tmp_path / "vidcurate-clips-otherhost-999999-abc",  # another node's (shared TMPDIR)
                  # this host name in another PID namespace (a container sharing /tmp): 999999
                  # is no process here, but may be one there (break test: a live run's folder went)
                  tmp_path / f"vidcurate-clips-{scratch.host_tag().removesuffix('n' + scratch.pid_namespace())}n1-999999-abc",
                  tmp_path / "vidcurate-onepass-abc", tmp_path / "unrelated"]
        for p in others:
            p.mkdir()
        assert sorted(scratch.sweep(str(tmp_path))) == sorted(dead)
        assert not any(os.path.exists(p) for p in dead)
        assert os.path.isdir(mine) and all(p.is_dir() for p in others)
    finally:
        live.kill()
        live.wait()


def test_the_first_sandbox_child_of_a_process_sweeps_the_temporary_folder(monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this process's temporary folder
    close_all()
    stale = _dead_owners_folder("sandbox", tmp_path)
    monkeypatch.setattr(child, "_SWEPT", child.threading.Event())  # as in a new process
    try:
        folder = run_limited(guarded.temp_folder, None, Limits(memory_mb=304))
        assert os.path.dirname(folder) == str(tmp_path) and not os.path.exists(stale)
    finally:
        close_all()
