"""One process per output folder: the lock ``train`` and ``latents`` take on their
``--output`` (a second one exits 3)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os


def lock_output(output: str, name: str):
    """An exclusive lock on ``OUTPUT/NAME`` (``fcntl.lockf``, held while the returned file
    stays open), or None when another process holds it: two trainings into one folder had
    interleaved their checkpoints and log and both ended "done", and two ``vidcurate
    latents`` runs had published a shard of both runs' bytes (break tests). A POSIX record lock
    belongs to this process alone: loader workers forked from it do not hold it on after a
    ``kill -9`` of the trainer (a ``flock`` had stayed held by them for seconds)."""
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, name)
    for _ in range(5):
        f = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the run
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            f.close()
            if err.errno in (errno.EACCES, errno.EAGAIN):
                return None
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file a finishing run removed (unlock_output) after this one opened it
            break
        f.close()
    else:
        return None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def unlock_output(lock, output: str, made: bool) -> None:
    """Release :func:`lock_output`: the lock file is removed while still held (a run that opened
    it meanwhile sees it gone and takes a new one), and ``output`` too when this run
    ``made`` it and left nothing in it (a run that failed at once, e.g. on missing shards:
    a new-user trial found such folders holding a stale lock alone)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(lock.name)
    lock.close()
    if made:
        with contextlib.suppress(OSError):  # not empty: the run wrote something
            os.rmdir(output)
