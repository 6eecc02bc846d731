"""The run lease: one run at a time per output, on any store (no ``fcntl``, no rename).

``<output>/work/lease.json`` holds ``{"owner", "host", "boot", "pidns", "pid", "expiry", "ttl_s"}``
(``expiry``: Unix time, seconds). A run takes the lease when there is none, when it is
past its expiry (a run killed without cleaning up; taken over with a warning), or when
it names a process on this very machine (host name and boot id) and PID namespace that
no longer exists (so a killed local run is resumed at once). A heartbeat thread pushes the expiry ``ttl_s`` ahead every
``ttl_s / 3`` seconds while the run lives (and stops, with an error in the log, if it
finds the lease taken over, or lapsed: no renewal landed before the last one's expiry,
after which a take-over may have come and gone); the lease object is deleted on exit.

Where there is no readable lease and the store can create a file only if none is there
(a local folder: :func:`curate.store.create_new`), the run takes it in that one step: of
two runs, exactly one creates it and the other finds it, with no wait; a run whose
create fails reads again and tries again, so it writes only to take over a lease that is
there. Otherwise (an object store, or a lease to take over) taking the lease is
write-then-read-back: after a short settle time (0.2 s, which every local run had waited
before its first source started) the run reads the lease again and gives up if another
owner's write landed last. Two runs started
within the same fraction of a second on a store without conditional writes (or on a
machine so loaded that the gap between one run's read and write outlasts the settle
time) could both pass; :meth:`Lease.check` before the run's final writes then stops
the one whose lease was overwritten (exit 3), so at most one of them writes the output.
Everything else (a run started while another is live) is refused with
:class:`OutputInUseError`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid

from curate import store
from curate.scratch import boot_id, pid_alive, pid_namespace

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 60.0
_CREATE_TRIES = 3  # reads and one-step creates before an unreadable lease is taken over


class OutputInUseError(RuntimeError):
    """The output is leased by another live run or holds work made with other settings."""


def _alive_here(info: dict) -> bool:
    """False when ``info`` names a process of this machine (host name and boot,
    :func:`curate.scratch.boot_id`) and PID namespace (:func:`curate.scratch.pid_namespace`)
    that is gone; True otherwise (its expiry decides): a lease without a boot id, or from
    another boot, may be another machine's of the same name."""
    if (info.get("host") != socket.gethostname() or info.get("pidns") != pid_namespace()
            or not info.get("boot") or info.get("boot") != boot_id()):
        return True
    try:
        return pid_alive(int(info.get("pid", 0)))
    except ValueError:
        return True


class Lease:
    """The lease of one run on ``location`` (a store URL or path of ``lease.json``).

    Use as a context manager. ``ttl_s``: seconds a lease stays valid without renewal;
    ``settle_s``: wait before the read-back check. Raises :class:`OutputInUseError`
    when another live run holds it.
    """

    def __init__(self, location: str, ttl_s: float = DEFAULT_TTL_S, settle_s: float = 0.2):
        self.location, self.ttl_s, self.settle_s = location, ttl_s, settle_s
        self.owner = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost: dict | None = None  # the other owner's lease, once the heartbeat found one
        self.valid_until = 0.0  # the expiry (Unix time) of this run's last lease write that landed

    def read(self) -> dict | None:
        """The current lease, or None when there is none (or it is unreadable)."""
        try:
            return json.loads(store.read_bytes(self.location))
        except FileNotFoundError:
            return None
        except ValueError:
            log.warning("ignoring an unreadable lease %s", self.location)
            return None

    def _info(self, expiry: float) -> bytes:
        info = {"owner": self.owner, "host": socket.gethostname(), "boot": boot_id(), "pidns": pid_namespace(),
                "pid": os.getpid(),
                "expiry": expiry, "ttl_s": self.ttl_s}
        return json.dumps(info).encode()

    def _write(self) -> None:
        expiry = time.time() + self.ttl_s
        store.write_bytes(self.location, self._info(expiry))
        self.valid_until = expiry

    def lapsed(self) -> bool:
        """Whether this run's lease has expired since its last write that landed: the store
        did not take a renewal for ``ttl_s`` seconds (it did not answer, or the machine
        slept), so another run may have taken the output over, and even finished and
        removed its lease. A renewal that lands later proves nothing of that time (a break
        test: a run whose store froze for 64 s wrote its lease back over the absence a
        finished take-over had left, and then overwrote that run's index and manifest)."""
        return time.time() > self.valid_until

    def _busy(self, held: dict) -> OutputInUseError:
        left = held.get("expiry", 0) - time.time()
        return OutputInUseError(
            f"{os.path.dirname(os.path.dirname(self.location))} is in use by another vidcurate run "
            f"(host {held.get('host')}, pid {held.get('pid')}; its lease {self.location} expires in "
            f"{left:.0f} s unless renewed)")

    def acquire(self) -> None:
        """Take the lease (module docstring) and start the heartbeat."""
        for _ in range(_CREATE_TRIES):  # none readable: created in one step where the store can
            held = self.read()
            if held is not None:
                break
            expiry = time.time() + self.ttl_s
            made = store.create_new(self.location, self._info(expiry))
            if made:
                self.valid_until = expiry
                self._start_heartbeat()
                return
            if made is None:  # an object store, or no hard links: write, settle, read back
                break
            # False: another run created it just now (read it), or it is unreadable (taken over below)
        if held is not None and held.get("owner") != self.owner:
            if held.get("expiry", 0) > time.time() and _alive_here(held):
                raise self._busy(held)
            log.warning("taking over the lease of a run that stopped (host %s, pid %s): %s",
                        held.get("host"), held.get("pid"), self.location)
        self._write()
        try:
            time.sleep(self.settle_s)
            now = self.read()
        except BaseException:  # e.g. a Ctrl-C while it settles: the lease just written goes too
            self.release()
            raise
        if now is None or now.get("owner") != self.owner:
            raise self._busy(now or {})
        self._start_heartbeat()

    def _start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._heartbeat, name="vidcurate-lease", daemon=True)
        self._thread.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                held = self.read()
                if held is not None and held.get("owner") != self.owner:
                    log.error("the lease %s was taken over by host %s, pid %s (this run stopped renewing "
                              "for over %g s); not renewing it", self.location, held.get("host"),
                              held.get("pid"), self.ttl_s)
                    self.lost = held
                    return
                if self.lapsed():  # (held or not now: another run may have come and gone meanwhile)
                    log.error("the lease %s lapsed: the store took no renewal for over %g s, so another "
                              "run may have taken this output over; not renewing it", self.location, self.ttl_s)
                    return
                self._write()
            except Exception as exc:  # noqa: BLE001 - a failed renewal is retried next beat
                log.warning("could not renew the lease %s: %s", self.location, exc)

    def held(self) -> bool:
        """Whether the lease is still this run's (it has not :meth:`lapsed`, no take-over
        was seen, and a fresh read names this run); False when it cannot be read."""
        if self.lapsed():
            return False
        try:
            held = self.lost or self.read()
        except OSError:
            return False
        return held is not None and held.get("owner") == self.owner

    def check(self) -> None:
        """Raise :class:`OutputInUseError` unless the lease is still this run's: before a run
        writes what others read (index, shards, manifest). Catches the take-over the
        heartbeat saw, and one since (the write race in the module docstring, or a run that
        took a lease this one failed to renew): of two runs that both got past
        :meth:`acquire`, at most one writes the output."""
        if self.held():
            return
        if self.lapsed() and not self.lost:
            raise OutputInUseError(
                f"{os.path.dirname(os.path.dirname(self.location))}: this run's lease {self.location} "
                f"lapsed (the store took no renewal for over {self.ttl_s:g} s), so another vidcurate run "
                "may have taken this output over; nothing of this run's index or shards was written, and "
                "its committed sources are kept: run the command again")
        held = self.lost or self.read()
        raise OutputInUseError(
            f"{os.path.dirname(os.path.dirname(self.location))}: another vidcurate run took over "
            f"this output's lease {self.location} (host {(held or {}).get('host')}, pid "
            f"{(held or {}).get('pid')}; none left when absent); nothing of this run's index or "
            "shards was written, and its committed sources are kept: run the command again once "
            "that run has finished")

    def release(self) -> None:
        """Stop the heartbeat and delete the lease if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        held = self.read()
        if held is not None and held.get("owner") == self.owner:
            store.remove(self.location)

    def __enter__(self) -> "Lease":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
