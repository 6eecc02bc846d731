"""The run lease (pipelines/lease.py): one live run per output, take-overs of stopped
runs, the heartbeat, and what a run does when another took its output over."""

import json
import logging
import os
import socket
import subprocess
import sys
import time

import pytest

from curate import store
from pipelines.lease import Lease
from pipelines.workstore import OutputInUseError, WorkStore
from support.pipelines import LOCAL_YAML
from support.synth import Shot, shots_video
from support.workstores import SETTINGS, lease_file, plant_lease


def test_live_lease_of_another_run_is_refused(tmp_path):
    plant_lease(lease_file(tmp_path), "another-node", 4242, time.time() + 600)
    with pytest.raises(OutputInUseError, match="in use by another vidcurate run"):
        with WorkStore(str(tmp_path), SETTINGS):
            pass
    assert json.loads(store.read_bytes(lease_file(tmp_path)))["owner"] == "someone"  # left alone


def test_a_live_lease_from_another_pid_namespace_of_this_host_is_refused(tmp_path):
    """Two containers with one host name: the other's pid means nothing here, so its lease
    stands until it expires (found by a break test: it was taken over at once)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.DEVNULL)
    child.wait()  # a pid that is gone in this namespace
    plant_lease(lease_file(tmp_path), socket.gethostname(), child.pid, time.time() + 600, pidns="1")
    with pytest.raises(OutputInUseError, match="in use by another vidcurate run"):
        with WorkStore(str(tmp_path), SETTINGS):
            pass


def test_a_live_lease_of_another_machine_with_this_host_name_is_refused(tmp_path):
    """A break test: two machines with one host name (cloned VMs) share the root PID
    namespace's inode, so a live run's lease on the other one, naming a pid gone here, was
    taken over as a stopped local run's. The boot id tells them apart."""
    child = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.DEVNULL)
    child.wait()
    for boot in ("0f0e0d0c-other-machine", ""):  # another machine's boot; a lease of before boot ids
        plant_lease(lease_file(tmp_path), socket.gethostname(), child.pid, time.time() + 600, boot=boot)
        with pytest.raises(OutputInUseError, match="in use by another vidcurate run"):
            with WorkStore(str(tmp_path), SETTINGS):
                pass


@pytest.mark.parametrize("host_pid", [("another-node", 4242), ("same-host-dead-pid", None)])
def test_stale_lease_is_taken_over_with_a_warning_and_released(tmp_path, caplog, host_pid):
    host, pid = host_pid
    if pid is None:  # a killed run on this host: its pid is gone, the expiry still ahead
        child = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.DEVNULL)
        child.wait()
        host, pid, expiry = socket.gethostname(), child.pid, time.time() + 600
    else:  # a run on another node that stopped renewing
        expiry = time.time() - 1
    plant_lease(lease_file(tmp_path), host, pid, expiry)
    with caplog.at_level(logging.WARNING, logger="pipelines.lease"):
        with WorkStore(str(tmp_path), SETTINGS) as ws:
            held = json.loads(store.read_bytes(lease_file(tmp_path)))
            assert held["owner"] == ws.lease.owner and held["pid"] == os.getpid()
    assert "taking over the lease" in caplog.text
    assert not store.exists(lease_file(tmp_path))  # given back on exit


def test_heartbeat_renews_the_lease(tmp_path):
    lease = Lease(lease_file(tmp_path), ttl_s=0.6, settle_s=0.0)
    with lease:
        first = lease.read()["expiry"]
        deadline = time.time() + 30
        while lease.read()["expiry"] == first and time.time() < deadline:
            time.sleep(0.05)
        assert lease.read()["expiry"] > first
        assert lease.read()["owner"] == lease.owner


def test_heartbeat_never_takes_back_a_lease_another_run_took_over(tmp_path, caplog):
    lease = Lease(lease_file(tmp_path), ttl_s=0.3, settle_s=0.0)
    with caplog.at_level(logging.ERROR, logger="pipelines.lease"):
        lease.acquire()
        deadline = time.time() + 60
        while lease._thread.is_alive() and time.time() < deadline:  # until the heartbeat sees it
            if lease.read()["owner"] != "someone":  # (re)plant: a beat may have been mid-write
                plant_lease(lease_file(tmp_path), "another-node", 4242, time.time() + 600)
            lease._thread.join(timeout=0.05)
        assert not lease._thread.is_alive()
        lease.release()
    assert json.loads(store.read_bytes(lease_file(tmp_path)))["owner"] == "someone"
    assert "was taken over" in caplog.text


def test_check_stops_a_run_whose_lease_another_run_overwrote(tmp_path):
    """Two runs that both pass acquire (the read-write race): the one whose lease was
    overwritten learns it from check(), by a fresh read or from its heartbeat."""
    lease = Lease(lease_file(tmp_path), ttl_s=600, settle_s=0.0)
    lease.acquire()
    lease.check()  # still ours: nothing raised
    plant_lease(lease_file(tmp_path), "another-node", 4242, time.time() + 600)
    with pytest.raises(OutputInUseError, match="another vidcurate run took over .* pid 4242"):
        lease.check()
    store.remove(lease_file(tmp_path))  # that run finished and removed it: still not ours
    with pytest.raises(OutputInUseError, match="took over"):
        lease.check()
    lease.lost = {"owner": "someone", "host": "h", "pid": 1}  # what the heartbeat records
    lease._write()
    with pytest.raises(OutputInUseError, match="pid 1;"):
        lease.check()
    lease.release()


def test_a_lease_that_lapsed_is_lost_even_when_the_take_over_is_gone(tmp_path, caplog):
    """A break test: a run whose store froze for 64 s (its lease expired), while a second run
    took the output over, finished and removed its lease, then wrote its own lease back and
    overwrote that run's index and manifest, exit 0. A lease that lapsed is lost: the
    heartbeat stops renewing it, and check() stops the run (exit 3) even where a renewal
    landed late or the store holds no lease at all."""
    lease = Lease(lease_file(tmp_path), ttl_s=0.6, settle_s=0.0)
    lease.acquire()
    lease.check()  # fresh: still ours
    with caplog.at_level(logging.ERROR, logger="pipelines.lease"):
        stalled = lease.valid_until
        deadline = time.time() + 60
        while lease._thread.is_alive() and time.time() < deadline:
            lease.valid_until = time.time() - 1  # no renewal landed before the last one's expiry (again,
            lease._thread.join(timeout=0.05)  # should a beat have been mid-write)
        assert not lease._thread.is_alive()  # the heartbeat stopped renewing
        store.remove(lease_file(tmp_path))  # a take-over that came and went
    assert "lapsed" in caplog.text
    with pytest.raises(OutputInUseError, match="lease .* lapsed .* may have taken this output over"):
        lease.check()
    store.write_bytes(lease_file(tmp_path), lease._info(stalled))  # a renewal sent before the freeze lands now
    with pytest.raises(OutputInUseError, match="lapsed"):
        lease.check()
    lease.release()
    assert not store.exists(lease_file(tmp_path))  # its own lease, gone with the run


def test_a_run_whose_output_was_taken_over_writes_no_index_and_exits_3(ray_session, tmp_path, monkeypatch, capsys):
    """The lease overwritten while the sources ran (as a second run that raced past
    acquire does): the run stops before its index, shards and manifest, exit 3, and
    its committed sources stay for the next run."""
    import pipelines.runend as runner
    from pipelines.cli import main

    src = tmp_path / "v.mp4"
    shots_video(str(src), [Shot(3, 45)], 96, 64)
    out = tmp_path / "out"
    real = runner.drop_duplicates

    def overwritten(*args, **kwargs):
        plant_lease(lease_file(out), socket.gethostname(), os.getppid(), time.time() + 600)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "drop_duplicates", overwritten)
    assert main(["run", LOCAL_YAML, "--input", str(src), "--output", str(out), "--quiet"]) == 3
    assert "another vidcurate run took over" in capsys.readouterr().err
    assert not (out / "index.parquet").exists() and not (out / "shards").exists()
    assert not (out / "manifest.json").exists()
    assert len(os.listdir(out / "work" / "sources")) == 1  # the committed source is kept
    assert json.loads(store.read_bytes(lease_file(out)))["owner"] == "someone"  # not removed


def test_a_ctrl_c_while_the_lease_settles_leaves_no_lease_behind(tmp_path):
    """Interrupted between writing the lease and reading it back, the run takes it away
    again: the next run finds the folder free (it had found a stale lease to take over)."""
    plant_lease(lease_file(tmp_path), "another-node", 4242, time.time() - 1)  # stale: taken over, with the settle
    lease = Lease(lease_file(tmp_path), settle_s=0.0)
    reads = []
    real_read = lease.read

    def read():
        reads.append(store.exists(lease_file(tmp_path)))
        if len(reads) == 2:  # the read-back after writing: the Ctrl-C comes now
            raise KeyboardInterrupt
        return real_read()

    lease.read = read
    with pytest.raises(KeyboardInterrupt):
        lease.acquire()
    assert reads[:2] == [True, True]  # the stale one before, ours written
    assert not store.exists(lease_file(tmp_path))


def test_a_new_local_lease_is_taken_in_one_step_and_a_second_run_is_refused(tmp_path, monkeypatch):
    """No lease yet on a local folder: the run creates it in one step (no settle wait: the
    0.2 s every run had waited before its first source), complete when it appears; a
    second lease on the same output then finds it and is refused, also without waiting."""
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    first = Lease(lease_file(tmp_path), settle_s=5.0)
    first.acquire()
    try:
        held = json.loads(store.read_bytes(lease_file(tmp_path)))
        assert held["owner"] == first.owner and held["pid"] == os.getpid()
        with pytest.raises(OutputInUseError, match="in use by another vidcurate run"):
            Lease(lease_file(tmp_path), settle_s=5.0).acquire()
        assert slept == []
        assert sorted(os.listdir(tmp_path / "work")) == ["lease.json"]  # no .part file left behind
    finally:
        first.release()
    assert not store.exists(lease_file(tmp_path))


def test_create_new_creates_once_and_says_none_where_the_store_cannot_tell(tmp_path):
    """:func:`curate.store.create_new`: True once, then False with the first bytes kept; an
    object store (fsspec's memory filesystem here) gives None and writes nothing."""
    where = str(tmp_path / "a" / "lease.json")
    assert store.create_new(where, b"first") is True
    assert store.create_new(where, b"second") is False
    assert store.read_bytes(where) == b"first" and os.listdir(tmp_path / "a") == ["lease.json"]
    assert store.create_new("memory://vidcurate-create-new/lease.json", b"x") is None
    assert not store.exists("memory://vidcurate-create-new/lease.json")


def test_one_run_holds_the_lease_whatever_comes_between_its_steps(tmp_path, monkeypatch):
    """Interleavings a break test found, each of which had let two runs pass ``acquire``:
    (a) run B reads no lease, then A creates it in one step before B goes on: B had gone on
    to write over A's (A never reads back); now B's own one-step create fails and B is
    refused. (b) P's create loses to H, whose run ends before P reads again; P had then
    written its lease over whatever was there, and Q, created in one step just before that
    write, held it too; now P tries the one-step create again, and exactly one holds."""
    loc = lease_file(tmp_path)
    a, b = Lease(loc, settle_s=0.0), Lease(loc, settle_s=0.0)
    real_read = b.read

    def b_read():  # A arrives right after B's first read
        b.read = real_read
        found = real_read()
        a.acquire()
        return found

    b.read = b_read
    with pytest.raises(OutputInUseError, match="in use by another vidcurate run"):
        b.acquire()
    assert a.held() and not b.held()
    a.release()

    h, p, q = (Lease(loc, settle_s=0.0) for _ in range(3))
    real_create, real_write = store.create_new, store.write_bytes
    passed = {}

    def take(name, lease):
        try:
            lease.acquire()
            passed[name] = True
        except OutputInUseError:
            passed[name] = False

    def h_comes_and_goes(location, data):
        monkeypatch.setattr(store, "create_new", real_create)
        h.acquire()
        made = real_create(location, data)
        h.release()
        return made

    def q_first(location, data):  # Q starts just before a write of P's lands
        monkeypatch.setattr(store, "write_bytes", real_write)
        take("q", q)
        return real_write(location, data)

    monkeypatch.setattr(store, "create_new", h_comes_and_goes)
    monkeypatch.setattr(store, "write_bytes", q_first)
    take("p", p)
    if "q" not in passed:  # P wrote nothing over a lease: Q starts after P
        take("q", q)
    assert sorted(passed.values()) == [False, True]
    assert [p.held(), q.held()].count(True) == 1
    p.release()
    q.release()
    assert not store.exists(loc)


def test_an_unreadable_lease_is_taken_over_after_the_one_step_creates_fail(tmp_path, caplog):
    """A lease file that is there but unreadable (cut, or not JSON): the one-step create
    fails each time, so the run takes it over by writing it, as before."""
    os.makedirs(tmp_path / "work")
    (tmp_path / "work" / "lease.json").write_text("{not json")
    lease = Lease(lease_file(tmp_path), settle_s=0.0)
    with caplog.at_level(logging.WARNING, logger="pipelines.lease"):
        lease.acquire()
    try:
        assert lease.held() and "unreadable lease" in caplog.text
        assert sorted(os.listdir(tmp_path / "work")) == ["lease.json"]
    finally:
        lease.release()
