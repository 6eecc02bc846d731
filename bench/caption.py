"""Benchmark: the VLM caption stage per engine, and batching against a one-prompt-at-a-time loop.

Every side captions the same synthetic clips (frame samples shaped like extract's:
``--frames`` frames of 224x298 RGB per clip, saved under a temporary work folder) with
the same prompts and settings, in the same process, and the script prints clips per
second and generated (output) tokens per second per GPU for each side (one process uses
one GPU; on CPU the figures are per process) and the ratios against the loop. The
transformers sides alternate for ``--repeats`` rounds and each keeps its fastest round,
so load from other processes on a shared machine skews the ratios less.

- ``loop``: transformers, for each clip, for each of its windows, one ``generate()`` call.
- ``transformers``: :meth:`VLMCaptionStage.process_batch` on ``--batch-size`` clips at a time
  (what one Ray actor receives): windows packed into token-budget batches
  (``--max-batch-tokens``), then reading, hygiene and merging; cache off.
- ``vllm`` (``--engine vllm`` or ``both``; needs the ``vllm`` extra and a GPU): the same
  stage with ``engine: vllm``, all clips handed over at once so vLLM's continuous
  batching schedules every prompt.

Without ``--model`` the tiny offline Qwen2.5-VL of :mod:`curate.captioning.tiny` is built
and wired to answer one timed event (no failed answers, so no side retries), without
structured decoding (the wired model can only say its sentence), on CPU. With ``--model
Qwen/Qwen2.5-VL-7B-Instruct --device cuda`` the same comparison runs on the real model,
JSON-constrained where the engine supports it; answers may then differ in length
between sides, so tokens per second is the fairer figure. ``--show N`` prints N captions.

Usage: ``python bench/caption.py [--clips 24] [--batch-size 8] [--model ID] [--engine transformers|vllm|both]``
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

TINY_ANSWER = ("0 - 4 s : a red square slides right across this frame while our camera stays still; "
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
            tokens += stage._vlm.generate([req], settings, stage.schema())[0].new_tokens
    return time.perf_counter() - t0, tokens


def make_stage(args, model: str, engine: str) -> VLMCaptionStage:
    """The stage as the benchmark runs it (cache off; vLLM gets every clip in one call)."""
    batch = args.clips if engine == "vllm" else args.batch_size
    budget = 10**9 if engine == "vllm" else args.max_batch_tokens
    stage = VLMCaptionStage(model=model, engine=engine, dtype=args.dtype, device=args.device, cache=False,
                            structured=args.model is not None, max_new_tokens=args.max_new_tokens,
                            window_s=args.window, stride_s=args.window, image_side=args.image_side,
                            max_batch_tokens=budget, resources={"batch_size": batch})
    stage.setup()
    return stage


def _row(name: str, clips: int, seconds: float, tokens: int) -> dict:
    return {"side": name, "clips_s": clips / seconds, "tok_s": tokens / seconds, "tokens": tokens}


def measure(args, model: str, tmp: str) -> tuple[list[dict], list]:
    """Rows of figures for each side asked for, and the captioned tasks of the last side."""
    clips = make_clips(os.path.join(tmp, "work"), args.clips, args.duration, args.frames)
    rows = []
    if args.engine in ("transformers", "both"):
        stage = make_stage(args, model, "transformers")
        run_loop(stage, make_clips(os.path.join(tmp, "warm"), 2, args.duration, args.frames, seed=1))
        loops, batches = [], []
        for _ in range(args.repeats):
            if not args.no_loop:
                loops.append(run_loop(stage, clips))
            batches.append(run_batched(stage, clips))
        rows += [_row("loop", args.clips, *min(loops))] if loops else []
        rows.append(_row("transformers", args.clips, *min(batches)))
        rows[-1]["stats"] = dict(stage.stats)
        del stage
    if args.engine in ("vllm", "both"):
        stage = make_stage(args, model, "vllm")
        run_batched(stage, make_clips(os.path.join(tmp, "warm"), 2, args.duration, args.frames, seed=1))
        rows.append(_row("vllm", args.clips, *run_batched(stage, clips)))
        rows[-1]["stats"] = dict(stage.stats)
    return rows, clips


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, run the sides, print the figures; returns them as a dict."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="hub id or local path (default: tiny offline model)")
    ap.add_argument("--engine", default="transformers", choices=("transformers", "vllm", "both"))
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-batch-tokens", type=int, default=32768)
    ap.add_argument("--duration", type=float, default=4.0, help="clip length, seconds")
    ap.add_argument("--frames", type=int, default=8, help="frames in each clip's sample")
    ap.add_argument("--image-side", type=int, default=224)
    ap.add_argument("--window", type=float, default=10.0, help="window_s (stride = window)")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3, help="alternating rounds; the fastest of each side counts")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--show", type=int, default=0, help="print this many captions")
    ap.add_argument("--no-loop", action="store_true", help="skip the one-prompt-at-a-time loop")
    ap.add_argument("--gpu-memory-gib", type=float, default=None,
                    help="cap this process's GPU memory (e.g. 24 to act as a 24 GB GPU on a larger one)")
    args = ap.parse_args(argv)
    if args.gpu_memory_gib:
        import torch

        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, args.gpu_memory_gib * 2**30 / total))
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or wire_answer(build_tiny_vlm(os.path.join(tmp, "tiny")), TINY_ANSWER)
        rows, clips = measure(args, model, tmp)
    model_ok = sum(t.record.caption.source == "model" for t in clips)
    base = rows[0]
    print(f"model {args.model or 'tiny (offline)'}: {args.clips} clips of {args.frames} frames, "
          f"batch {args.batch_size}, {model_ok}/{args.clips} model captions (last side)")
    for r in rows:
        r["clips_ratio"], r["tok_ratio"] = r["clips_s"] / base["clips_s"], r["tok_s"] / base["tok_s"]
        print(f"  {r['side']:<13}{r['clips_s']:8.2f} clips/s/GPU {r['tok_s']:9.1f} output tokens/s/GPU "
              f"({r['tokens']} tokens)  x{r['clips_ratio']:.2f} clips/s, x{r['tok_ratio']:.2f} tokens/s "
              f"vs {base['side']}")
        if "stats" in r:
            print(f"      stage counters: {r['stats']}")
    for t in clips[:args.show]:
        cap = t.record.caption
        print(f"  [{t.clip_id}] {cap.source} {cap.degenerate_detail or ''}: {cap.short!r}")
        for e in cap.events:
            print(f"      {e.start_s:5.2f}-{e.end_s:5.2f} s: {e.text}")
    return {"clips": args.clips, "model_captions": model_ok, "rows": rows}


if __name__ == "__main__":
    main()
