"""Work-store helpers of the output-store and lease tests: the settings they commit
with, where a lease lives, and a lease planted as another run's."""

import json

from curate import store

SETTINGS = {"probe": {"min_duration_s": 0.5}}


def lease_file(out) -> str:
    """Where the lease of the output ``out`` (a folder or URL) lives."""
    return store.join(store.resolve(str(out)), "work", "lease.json")


def plant_lease(location: str, host: str, pid: int, expiry: float, pidns: str | None = None,
                boot: str | None = None) -> None:
    """A live-looking lease of another run ("someone") on ``location``: ``pidns`` and
    ``boot`` None are this process's PID namespace and this machine's boot id."""
    from curate.scratch import boot_id, pid_namespace

    store.write_bytes(location, json.dumps({"owner": "someone", "host": host, "pid": pid,
                                            "boot": boot_id() if boot is None else boot,
                                            "pidns": pid_namespace() if pidns is None else pidns,
                                            "expiry": expiry, "ttl_s": 60}).encode())
