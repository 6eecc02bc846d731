"""Node-local scratch folders named after their owner, so a later process removes those whose owner died.

A sandbox child's folder (:mod:`curate.child`) and a pass's clip hand-over folder
(:class:`pipelines.rows.SplitExtract`) are removed by their owners when they end, but an
owner killed with SIGKILL (a run's whole process group, the kernel's OOM killer, Ray
killing a worker and its children at shutdown) or interrupted mid-source cannot: a
break test left ``vidcurate-clips-*`` folders after Ctrl-C, SIGTERM and SIGKILL, and
Ray workers left empty sandbox folders after a run that restored work files. So each
folder is made by :func:`owned_dir` as ``vidcurate-<kind>-<host>-<pid>-<random>`` in
the temporary folder (``TMPDIR``), and :func:`sweep`, run once per process when its
first sandbox child starts (:mod:`curate.child`), removes the folders of this host
whose process is gone. Folders of other hosts (a ``TMPDIR`` shared between nodes), of
other PID namespaces (containers sharing a ``/tmp``) and of live processes are left
alone; a reused process id only delays a removal.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile

KINDS = ("sandbox", "clips")
_NAME = re.compile(r"^vidcurate-(?P<kind>[a-z]+)-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[A-Za-z0-9_]+$")


def pid_namespace() -> str:
    """This process's PID namespace (the inode of ``/proc/self/ns/pid``; "" where there is
    none to read): two containers on one host name (host networking) number their
    processes apart, so a process id says whether a process lives only inside one
    namespace (found by a break test: a run in another namespace swept a live run's
    sandbox folders and took its lease)."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def boot_id() -> str:
    """This machine's boot id (``/proc/sys/kernel/random/boot_id``: new at every boot,
    shared by the containers of one kernel; "" where there is none to read). Two machines
    with one host name (cloned VMs, "localhost") both have the root PID namespace's inode,
    4026531836, so a host name and namespace do not tell them apart (a break test: a live
    lease of the other machine was taken over as a stopped local run's)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def host_tag() -> str:
    """This host's name as it appears in folder names: letters and digits only, at most
    24 (``host`` when nothing is left), then ``n`` and the :func:`pid_namespace` when
    there is one."""
    ns = pid_namespace()
    return (re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:24] or "host") + (f"n{ns}" if ns else "")


def owned_dir(kind: str, parent: str | None = None) -> str:
    """Make and return a new folder ``vidcurate-<kind>-<host>-<pid>-<random>`` in ``parent``
    (default: the temporary folder), owned by this process. Raises ValueError for a
    ``kind`` not in :data:`KINDS` and OSError when it cannot be made."""
    if kind not in KINDS:
        raise ValueError(f"unknown scratch kind {kind!r} ({', '.join(KINDS)})")
    return tempfile.mkdtemp(prefix=f"vidcurate-{kind}-{host_tag()}-{os.getpid()}-", dir=parent)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep(parent: str | None = None) -> list[str]:
    """Remove the folders :func:`owned_dir` made in ``parent`` (default: the temporary
    folder) on this host whose owning process no longer runs; returns their paths.
    Errors while listing or removing are ignored (another process may sweep too)."""
    parent = parent or tempfile.gettempdir()
    host, removed = host_tag(), []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        m = _NAME.match(entry.name)
        if m is None or m["kind"] not in KINDS or m["host"] != host or int(m["pid"]) == os.getpid():
            continue
        if not pid_alive(int(m["pid"])) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed
