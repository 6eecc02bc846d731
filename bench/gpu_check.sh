#!/usr/bin/env bash
# One short device check of the VLM caption stage (issue 15), for a lent GPU machine.
#
#   bench/gpu_check.sh                       # tiny offline model on CUDA, then real weights if found
#   MODEL=/models/Qwen2.5-VL-7B-Instruct bench/gpu_check.sh
#
# 1. The tiny offline Qwen2.5-VL on CUDA: device_map loading, bf16, FlashAttention 2 when
#    flash_attn is installed (else SDPA), video input, batched vs one-at-a-time throughput.
# 2. Real weights when MODEL names a local folder or the Hugging Face cache holds
#    Qwen/Qwen2.5-VL-7B-Instruct (the machine has no network: nothing is downloaded):
#    16 clips of 16 frames at 336 px, JSON-constrained answers (lm-format-enforcer when
#    installed), clips/s and output tokens/s per GPU for transformers (and vLLM when
#    installed), and a few captions with their events.
# 3. The same real model capped at 24 GiB of GPU memory, so a batch that does not fit meets
#    a real torch.cuda.OutOfMemoryError: the stage counters show the halving
#    (oom_splits) and any clip that fell back (failed).
# 0. GPU codecs (issue 10, needs only PyAV): the decoder/encoder auto picks, NVDEC vs CPU decode
#    and NVENC vs libx264 encode fps on a 10 s 1080p source, the CUDA/NVENC probes under the
#    sandbox's memory bound.
# Whole run: about 6-8 minutes with real weights (loading included), under 2 without (plus ~1 for 0).
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 RAY_USAGE_STATS_ENABLED=0 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

# -- 0. GPU codecs (issue 10): which decoder/encoder the extract stage would pick here, and how fast --
# Needs only PyAV; runs before the caption steps (which need torch). About 1 minute: a 10 s 1080p
# source is made, decoded to 910x512 clip frames by the CPU decoder and by NVDEC (fps, and whether
# the frames match), encoded by libx264 and by NVENC at the gpu.yaml settings (fps, bytes, colour
# tags), and the CUDA/NVENC probes are re-run under the sandbox's address-space bound (RLIMIT_AS)
# at a few memory_mb values, to choose the extract stage's limits for GPU codecs.
CODEC_PY=""
for cand in "${PYTHON:-}" .venv/bin/python python3; do
    if [ -n "$cand" ] && "$cand" -c "import av, curate.codec.hwaccel" 2>/dev/null; then CODEC_PY=$cand; break; fi
done
if [ -z "$CODEC_PY" ]; then
    echo "== 0. GPU codecs skipped: no python with av and curate"
else
echo "== 0. GPU codecs (NVDEC/NVENC selection)"
timeout 300 "$CODEC_PY" - <<'PYEOF' || echo "step 0 failed"
import os, shutil, subprocess, sys, tempfile, time
import av, numpy as np
from av.codec.hwaccel import hwdevices_available
from curate.codec import ClipWriter, iter_frames, pick_decoder, pick_encoder, probe
from curate.codec import hwaccel

print("PyAV", av.__version__, "FFmpeg", av.ffmpeg_version_info, "hw devices", hwdevices_available())
print("build offers:", {c: c in av.codecs_available for c in ("h264_nvenc", "hevc_nvenc", "h264_cuvid", "hevc_cuvid")})
dec, enc = pick_decoder("auto"), pick_encoder("auto", 20, "veryfast")
print("chosen decoder:", dec.name, "|", dec.reason)
print("chosen encoder:", enc.name, enc.codec_name, enc.options, "|", enc.reason)

tmp = tempfile.mkdtemp(prefix="gpu-codec-")
src = os.path.join(tmp, "src1080.mp4")
yy, xx = np.mgrid[0:1080, 0:1920]
with av.open(src, "w") as c:
    s = c.add_stream("libx264", rate=24)
    s.width, s.height, s.pix_fmt = 1920, 1080, "yuv420p"
    s.codec_context.options = {"preset": "ultrafast", "crf": "18"}
    for i in range(240):
        img = np.stack([(xx + 8 * i) % 256, (yy + 3 * i) % 256, ((xx + yy) // 4) % 256], -1).astype(np.uint8)
        for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(p)
    for p in s.encode(None):
        c.mux(p)
print(f"source: {src} 1920x1080 24 fps 240 frames")

def decode(choice):
    t = time.perf_counter()
    frames = [f.image for f in iter_frames(src, size=(910, 512), fmt="yuv420p", decoder=choice)]
    return frames, len(frames) / (time.perf_counter() - t)

cpu_frames, cpu_fps = decode("cpu")
print(f"decode cpu: {len(cpu_frames)} frames, {cpu_fps:.0f} fps")
if dec.name == "nvdec":
    gpu_frames, gpu_fps = decode(dec)
    diff = max(int(np.abs(a.to_ndarray().astype(int) - b.to_ndarray().astype(int)).max())
               for a, b in zip(cpu_frames, gpu_frames))
    print(f"decode nvdec: {len(gpu_frames)} frames, {gpu_fps:.0f} fps ({gpu_fps / cpu_fps:.2f}x cpu); "
          f"max |cpu - nvdec| over yuv420p clip frames: {diff}")

def encode(choice, name):
    path = os.path.join(tmp, name)
    t = time.perf_counter()
    with ClipWriter(path, 910, 512, 24.0, 20, "veryfast", encoder=choice) as w:
        for f in cpu_frames:
            w.write(f)
    fps = w.num_frames / (time.perf_counter() - t)
    p = probe(path)
    with av.open(path) as c:
        cc = c.streams.video[0].codec_context
        tags = (int(cc.color_range), int(cc.colorspace), int(cc.color_primaries), int(cc.color_trc))
    print(f"encode {choice.codec_name}: {fps:.0f} fps, {os.path.getsize(path)} bytes, "
          f"{p.num_frames} frames {p.codec} {p.width}x{p.height}, colour (range, matrix, prim, trc) {tags}")
    return fps

x264_fps = encode(pick_encoder("libx264", 20, "veryfast"), "x264.mp4")
if enc.name == "nvenc":
    nv_fps = encode(enc, "nvenc.mp4")
    print(f"nvenc / libx264 (one x264 thread, as the stage runs it): {nv_fps / x264_fps:.2f}x")

# The sandbox caps the child's address space at its size at start + memory_mb (curate.guard).
probe_code = ("import resource, sys; from curate.codec import hwaccel; "
              "vm = int([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmSize')][0]) * 1024; "
              "lim = vm + int(sys.argv[1]) * 2**20; resource.setrlimit(resource.RLIMIT_AS, (lim, lim)); "
              "print('cuda:', hwaccel.cuda_verdict() or 'opens', '| nvenc:', hwaccel.nvenc_verdict() or 'opens')")
for mb in (4096, 65536, 262144):
    out = subprocess.run([sys.executable, "-c", probe_code, str(mb)], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=120)
    print(f"under memory_mb {mb}:", (out.stdout.strip() or out.stderr.strip()[-300:]))
shutil.rmtree(tmp)
PYEOF
fi

PY=""
for cand in "${PYTHON:-}" .venv/bin/python python3; do
    if [ -n "$cand" ] && "$cand" -c "import torch, transformers, accelerate" 2>/dev/null; then PY=$cand; break; fi
done
if [ -z "$PY" ]; then echo "no python with torch, transformers and accelerate (set PYTHON=...)"; exit 2; fi
"$PY" - <<'PYEOF'
import importlib.util, torch, transformers
print("torch", torch.__version__, "transformers", transformers.__version__, "cuda", torch.cuda.is_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"gpu {p.name}, {p.total_memory / 2**30:.1f} GiB")
for mod in ("flash_attn", "lmformatenforcer", "vllm"):
    print(f"{mod}: {'yes' if importlib.util.find_spec(mod) else 'no'}")
PYEOF

echo "== 1. tiny model on CUDA"
"$PY" bench/caption.py --device cuda --clips 16 --batch-size 8 --frames 8 --repeats 1 --show 1 || echo "step 1 failed"

if [ -z "${MODEL:-}" ]; then
    snap=$(ls -d "${HF_HOME:-$HOME/.cache/huggingface}"/hub/models--Qwen--Qwen2.5-VL-7B-Instruct/snapshots/*/ 2>/dev/null | head -1)
    MODEL=${snap:-}
fi
if [ -z "$MODEL" ]; then
    echo "== 2-3 skipped: no real weights here (set MODEL=<folder saved with save_pretrained>)"
    exit 0
fi
ENGINE=transformers
"$PY" -c "import vllm" 2>/dev/null && ENGINE=both
REAL=(--model "$MODEL" --device cuda --dtype bfloat16 --clips 16 --frames 16 --image-side 336
      --duration 8 --max-new-tokens 256 --repeats 1)
echo "== 2. $MODEL, engine $ENGINE"
timeout 300 "$PY" bench/caption.py "${REAL[@]}" --engine "$ENGINE" --batch-size 16 --show 3 || echo "step 2 failed"
echo "== 3. $MODEL capped at 24 GiB, one batch of 16 (OOM halving on a real error)"
timeout 200 "$PY" bench/caption.py "${REAL[@]}" --engine transformers --batch-size 16 --max-batch-tokens 1000000 \
    --gpu-memory-gib 24 --no-loop --show 1 || echo "step 3 failed"
