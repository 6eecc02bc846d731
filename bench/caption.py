"""Benchmark: the VLM caption stage with batching vs a plain one-prompt-at-a-time ``generate()`` loop.

Both sides caption the same synthetic clips (frame samples shaped like extract's:
``--frames`` frames of 224x298 RGB per clip, saved under a temporary work folder) with
the same prompts and greedy settings, in the same process, and the script prints clips
per second and generated tokens per second for each and their ratio (batched / loop).
The two sides alternate for ``--repeats`` rounds and each keeps its fastest round, so
load from other processes on a shared machine skews the ratio less.

- ``batched``: :meth:`VLMCaptionStage.process_batch` on ``--batch-size`` clips at a time
  (what one Ray actor receives), all windows of those clips in batched ``generate()`` calls,
  then parsing, hygiene and merging; cache off, so every clip is generated.
- ``loop``: for each clip, for each of its windows, one ``generate()`` call on one prompt.

Without ``--model`` the tiny offline Qwen2.5-VL of :mod:`curate.captioning.tiny` is built
and wired to answer a 21-token sentence (no degenerate answers, so neither side retries)
and run on CPU. With ``--model Qwen/Qwen2.5-VL-7B-Instruct --device cuda`` the same
comparison runs on a real model (its answers may differ in length between the two sides;
tokens per second is then the fairer figure).

Usage: ``python bench/caption.py [--clips 24] [--batch-size 8] [--model ID] [--device auto]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from curate.captioning import VLMCaptionStage  # noqa: E402
from curate.captioning.tiny import build_tiny_vlm, wire_answer  # noqa: E402
from curate.extract import frames_path  # noqa: E402
from curate.frames_io import save_frames  # noqa: E402
from curate.tasks import ClipTask  # noqa: E402
from schemas import ClipRecord, ClipVideo, MotionStep, SourceInfo, Span  # noqa: E402

TINY_ANSWER = ("A red square slides right across this frame while our camera stays still; "
               "then it stops near one edge.")


def make_clips(work: str, n: int, duration_s: float, frames: int, seed: int = 0) -> list[ClipTask]:
    """``n`` clip tasks with random frame samples ``(frames, 224, 298, 3) uint8`` saved under ``work``."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(work, "clips"), exist_ok=True)
    tasks = []
    for i in range(n):
        cid = f"bench{i:04d}"
        src = SourceInfo(path=f"/bench/{cid}.mp4", source_id=cid, size_bytes=1, duration_s=duration_s, fps=25.0,
                         num_frames=int(25 * duration_s), width=298, height=224, codec="h264")
        span = Span(shot_index=0, start_frame=0, end_frame=src.num_frames, start_s=0.0, end_s=duration_s)
        track = [MotionStep(t_s=t, pan_x=0.05 * (i % 3 - 1), pan_y=0.0, zoom=0.0, residual=0.01,
                            magnitude=0.06, luma=110.0) for t in np.arange(0.125, duration_s, 0.25)]
        rec = ClipRecord(clip_id=cid, source=src, span=span, motion_track=track,
                         clip=ClipVideo(num_frames=src.num_frames, fps=25.0, width=298, height=224,
                                        duration_s=duration_s))
        times = list((np.arange(frames) + 0.5) * duration_s / frames)
        save_frames(frames_path(work, cid), rng.integers(0, 256, (frames, 224, 298, 3), dtype=np.uint8), times)
        tasks.append(ClipTask(source=src, span=span, clip_id=cid, work_dir=work, record=rec))
    return tasks


def run_batched(stage: VLMCaptionStage, tasks: list[ClipTask]) -> tuple[float, int]:
    """Seconds and generated tokens for the stage over ``tasks`` in actor-sized batches."""
    step = stage.resources.batch_size
    tokens0 = stage.stats["new_tokens"]
    t0 = time.perf_counter()
    for i in range(0, len(tasks), step):
        stage.process_batch(tasks[i:i + step])
    return time.perf_counter() - t0, stage.stats["new_tokens"] - tokens0


def run_loop(stage: VLMCaptionStage, tasks: list[ClipTask]) -> tuple[float, int]:
    """Seconds and generated tokens for one ``generate()`` per prompt, clip after clip (prompt building included)."""
    settings, tokens = stage.generation(), 0
    t0 = time.perf_counter()
    for task in tasks:
        job = stage._prepare(task)
        for req in job.requests:
            tokens += stage._vlm.generate([req], settings)[0].new_tokens
    return time.perf_counter() - t0, tokens


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, run both sides, print the figures; returns them as a dict."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="hub id or local path (default: tiny offline model)")
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--duration", type=float, default=4.0, help="clip length, seconds")
    ap.add_argument("--frames", type=int, default=8, help="frames in each clip's sample")
    ap.add_argument("--window", type=float, default=10.0, help="window_s (stride = window)")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3, help="alternating rounds; the fastest of each side counts")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or wire_answer(build_tiny_vlm(os.path.join(tmp, "tiny")), TINY_ANSWER)
        stage = VLMCaptionStage(model=model, dtype=args.dtype, device=args.device, cache=False,
                                max_new_tokens=args.max_new_tokens, window_s=args.window, stride_s=args.window,
                                resources={"batch_size": args.batch_size})
        stage.setup()
        run_loop(stage, make_clips(os.path.join(tmp, "warm"), 2, args.duration, args.frames, seed=1))
        clips = make_clips(os.path.join(tmp, "work"), args.clips, args.duration, args.frames)
        loops, batches = [], []
        for _ in range(args.repeats):
            loops.append(run_loop(stage, clips))
            batches.append(run_batched(stage, clips))
        (loop_s, loop_tok), (batch_s, batch_tok) = min(loops), min(batches)
        model_ok = sum(t.record.caption.source == "model" for t in clips)
    res = {"clips": args.clips, "batch_size": args.batch_size, "model": args.model or "tiny (offline)",
           "device": stage._vlm.device, "loop_clips_s": args.clips / loop_s, "loop_tok_s": loop_tok / loop_s,
           "batched_clips_s": args.clips / batch_s, "batched_tok_s": batch_tok / batch_s,
           "model_captions": model_ok}
    res["clips_ratio"] = res["batched_clips_s"] / res["loop_clips_s"]
    res["tok_ratio"] = res["batched_tok_s"] / res["loop_tok_s"]
    print(f"model {res['model']} on {res['device']}: {args.clips} clips, batch {args.batch_size}, "
          f"{model_ok}/{args.clips} model captions")
    print(f"  loop     {res['loop_clips_s']:8.2f} clips/s {res['loop_tok_s']:9.1f} tokens/s ({loop_tok} tokens)")
    print(f"  batched  {res['batched_clips_s']:8.2f} clips/s {res['batched_tok_s']:9.1f} tokens/s ({batch_tok} tokens)")
    print(f"  ratio    {res['clips_ratio']:8.2f}x clips/s {res['tok_ratio']:8.2f}x tokens/s")
    return res


if __name__ == "__main__":
    main()
