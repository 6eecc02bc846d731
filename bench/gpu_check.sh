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
# Whole run: about 6-8 minutes with real weights (loading included), under 2 without.
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 RAY_USAGE_STATS_ENABLED=0 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

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
