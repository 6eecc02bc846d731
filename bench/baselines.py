"""The baselines :mod:`throughput` measures the pipeline against, in the same run.

- ``decode_floor``: one threaded PyAV decode of every frame of every file;
- ``transcode_floor``: decode, scale to the clips' short side and x264 at the clips' own
  options (``veryfast``, crf 23), one process per CPU (the issue's transcode floor);
- ``scenedetect_cli``: ``scenedetect detect-adaptive split-video`` over each file, with
  an ``ffmpeg`` on PATH (the system's, else imageio-ffmpeg's static binary linked in).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import av
from av.video.reformatter import VideoReformatter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from curate.codec import scaled_size  # noqa: E402
from curate.codec.hwaccel import x264_options  # noqa: E402
from cpu_account import CpuAccount  # noqa: E402


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


def _transcode(job: tuple[str, str]) -> int:
    src, dst = job
    with av.open(src) as c, av.open(dst, "w") as out:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        w, h = scaled_size(stream.codec_context.width, stream.codec_context.height, 256)
        rate = stream.average_rate or 25
        enc = out.add_stream("libx264", rate=rate)
        enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
        enc.codec_context.options = x264_options(23, "veryfast")  # the clips' own x264 options
        n, scale = 0, VideoReformatter()  # one swscale context for the file, as ffmpeg keeps
        for frame in c.decode(stream):
            small = scale.reformat(frame, width=w, height=h, format="yuv420p", interpolation="BICUBIC")
            small.pts, small.time_base, small.pict_type = n, 1 / rate, av.video.frame.PictureType.NONE
            out.mux(enc.encode(small))
            n += 1
        out.mux(enc.encode(None))
    return n


def transcode_floor(files: list[str], tmp: str) -> tuple[float, float]:
    """Wall seconds and CPU seconds of decode + scale + x264 (clip settings) of every file,
    one process per CPU."""
    jobs = [(p, os.path.join(tmp, f"t{i}.mp4")) for i, p in enumerate(files)]
    start = time.perf_counter()
    with CpuAccount() as cpu, ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(_transcode, jobs))
    return time.perf_counter() - start, sum(cpu.seconds().values())


def _ffmpeg_env(tmp: str) -> dict:
    env = dict(os.environ)
    if shutil.which("ffmpeg"):
        return env
    try:
        import imageio_ffmpeg
    except ImportError:
        return {}
    link = os.path.join(tmp, "bin")
    os.makedirs(link, exist_ok=True)
    if not os.path.exists(os.path.join(link, "ffmpeg")):
        os.symlink(imageio_ffmpeg.get_ffmpeg_exe(), os.path.join(link, "ffmpeg"))
    env["PATH"] = link + os.pathsep + env.get("PATH", "")
    return env


def scenedetect_cli(files: list[str], tmp: str) -> float | None:
    """Wall seconds of ``scenedetect detect-adaptive split-video`` over the files (None: no ffmpeg)."""
    env = _ffmpeg_env(tmp)
    if not env:
        return None
    exe = os.path.join(os.path.dirname(sys.executable), "scenedetect")
    start = time.perf_counter()
    for i, path in enumerate(files):
        subprocess.run([exe, "-q", "-i", path, "-o", os.path.join(tmp, f"sd{i}"), "detect-adaptive", "split-video"],
                       check=True, env=env, capture_output=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - start
