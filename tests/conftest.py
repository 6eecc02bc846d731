"""Session fixtures: one shared Ray, synthetic footage with known truth, one curated run."""

from __future__ import annotations

import os
import signal

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

# A suite started in the background by a non-interactive shell (`make test &` in a script)
# inherits SIGINT ignored, and so would every command the tests start: the Ctrl-C tests
# then saw the runs ignore Ctrl-C and finish (exit 0, not 130), as POSIX asks of background
# jobs. The tests' commands get the disposition of a terminal's foreground job instead.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import pytest  # noqa: E402

from support.pipelines import TEST_OVERRIDES, make_pipeline  # noqa: E402
from support.synth import Shot, shots_video  # noqa: E402

# Truth of the synthetic footage (frames at 25 fps).
CUTS_SHOTS = [Shot(1, 50), Shot(2, 60, pan=(0.08, 0.0)), Shot(3, 65)]
DUP_SHOTS = [Shot(4, 40), Shot(1, 50)]            # shot 1 again, at 480x360: a planted duplicate
LONG_SHOTS = [Shot(5, 250, pan=(0.15, 0.0))]       # 10 s, longer than max_clip_s


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session (2 CPUs, no dashboard)."""
    import ray

    from pipelines.session import init_ray, shutdown_ray

    started = init_ray(None, 2)
    yield ray
    if started:
        shutdown_ray()


@pytest.fixture(scope="session")
def footage(tmp_path_factory) -> dict:
    """Synthetic source videos and their truth: {name: (path, cut frames)}."""
    root = tmp_path_factory.mktemp("footage")
    out = {}
    for name, shots, size in (("cuts", CUTS_SHOTS, (320, 240)), ("dup", DUP_SHOTS, (480, 360)),
                              ("long", LONG_SHOTS, (320, 240))):
        path = str(root / f"{name}.mp4")
        out[name] = (path, shots_video(path, shots, *size))
    return out


@pytest.fixture(scope="session")
def curated_run(ray_session, footage, tmp_path_factory):
    """A finished pipeline run over the synthetic footage; the output folder (pathlib.Path)."""
    from pipelines.runner import run_pipeline

    out = tmp_path_factory.mktemp("run") / "out"
    folder = os.path.dirname(footage["cuts"][0])
    # keep_work: tests read work/clips (frame samples, clip mp4s) of this run
    pipeline = make_pipeline(TEST_OVERRIDES).model_copy(update={"keep_work": True})
    run_pipeline(pipeline, [folder], str(out), progress=False)
    return out


@pytest.fixture(params=["ray", "local"])
def call_workers(request):
    """Parallel calls for the driver's steps (:mod:`curate.parallel`), installed for the
    test, 2 CPUs: Ray tasks on the session's Ray, or the sandbox children of a local run
    without Ray (:meth:`pipelines.headstart.HeadStart.calls`, no sources). Yields the kind."""
    from curate import parallel

    if request.param == "ray":
        from pipelines.raytasks import ray_calls

        request.getfixturevalue("ray_session")
        with parallel.workers(ray_calls, 2):
            yield "ray"
        return
    from support.headstart import serving_pool

    with serving_pool(2) as head, parallel.workers(head.calls, 2):
        yield "local"
