#!/usr/bin/env bash
# The GPU checks, for a CUDA machine without network, in parts with their own time limits:
#   probe  the variable-length kernel and Liger Kernel import (seconds)
#   tests  the GPU tests (tests/test_gpu.py), while the benchmark's models are built beside them
#   bench  the GPU benchmark, Qwen2.5-0.5B and Llama-3.2-1B: the four reference configurations and the fast path
#   big    the GPU benchmark on Llama-3.1-8B: HF+LoRA bf16, HF+QLoRA, Unsloth+QLoRA at Unsloth's published
#          setting (batch 2 x 4 accumulation steps, LoRA r=32 on all linear layers; length 2048)
#   estimate  the memory estimator against torch.cuda.max_memory_allocated (bench/memory_check.py)
#   bash bench/gpu_check.sh [probe] [tests] [bench] [big] [estimate]     (default: probe tests bench)
# Sized (not yet timed on a device: the session that wrote it got none) for about 7 minutes for probe+tests+bench
# and 3 for big on an H200: the device's 15 minutes hold them in two calls, with room to run one part again.
# Limits (seconds): PROBE_TIMEOUT (60), TESTS_TIMEOUT (200), BENCH_TIMEOUT (330), BIG_TIMEOUT (260),
# ESTIMATE_TIMEOUT (200); BENCH_ARGS adds options to the bench part, e.g. BENCH_ARGS="--configs hf-lora,hf-lora-fast".
# Packages the machine lacks come unpacked from .gpu/site.tar.xz (bash bench/gpu_site.sh builds it); logs and
# the benchmark's JSON go to $OUT (default /tmp/gpu-out), at most 8 files. Then, here:
#   python -m bench.gpu_bench --report OLD.json NEW.json
set -o pipefail
OUT=${OUT:-/tmp/gpu-out}
MODELS=${MODELS_DIR:-/tmp/mf-gpu-models}
mkdir -p "$OUT" "$MODELS"
if [ -f .gpu/site.tar.xz ]; then
  mkdir -p /tmp/mf-site && tar -xJf .gpu/site.tar.xz -C /tmp/mf-site && export PYTHONPATH=/tmp/mf-site/site:$PWD
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 HF_DATASETS_OFFLINE=1
export UNSLOTH_DISABLE_STATISTICS=1 UNSLOTH_COMPILE_LOCATION=/tmp/unsloth-cache PYTHONUNBUFFERED=1
export MODELFORGE_GPU_RESULTS="$OUT/estimates.txt"
STEPS=" ${*:-probe tests bench} "
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 - <<'PY'
import importlib.metadata as m
for name in ("torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "unsloth", "unsloth_zoo", "datasets",
             "triton", "liger_kernel"):
    try:
        print(name, m.version(name))
    except m.PackageNotFoundError:
        print(name, "missing")
PY
} 2>&1 | tee -a "$OUT/gpu.txt"

if [[ $STEPS == *" probe "* ]]; then
  timeout "${PROBE_TIMEOUT:-60}" python3 - <<'PY' 2>&1 | tee -a "$OUT/gpu.txt"
import inspect, time
import torch
from torch.nn.attention import varlen
from modelforge_core.providers.varlen_attention import flash_attn_varlen_func, reference_varlen, varlen_problem
print("varlen_attn", inspect.signature(varlen.varlen_attn), "problem:", varlen_problem())
cu = torch.tensor([0, 300, 1024], dtype=torch.int32, device="cuda")
q = torch.randn(1024, 16, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
k = torch.randn(1024, 4, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
out = flash_attn_varlen_func(q, k, k, cu, cu, 724, 724, causal=True)
out.sum().backward()
ref = reference_varlen(q.float(), k.float(), k.float(), cu, cu, causal=True)
print("varlen forward max error vs per-row SDPA:", (out.float() - ref).abs().max().item(), "grad ok:", q.grad is not None)
try:
    import liger_kernel.transformers  # noqa: F401
    print("liger_kernel imported")
except Exception as exc:
    print("liger_kernel failed:", type(exc).__name__, exc)
PY
fi

if [[ $STEPS == *" tests "* ]]; then
  # the models are written while the tests run (neither is timed); the benchmark then runs alone
  timeout "${TESTS_TIMEOUT:-200}" python3 -m bench.gpu_bench --models qwen-0.5b,llama-1b,llama-8b --build-only \
    --models-dir "$MODELS" >>"$OUT/gpu.txt" 2>&1 &
  timeout "${TESTS_TIMEOUT:-200}" python3 -m pytest -q -m gpu -rA -p no:cacheprovider -n 4 tests/test_gpu.py 2>&1 \
    | tee "$OUT/gpu_tests.log" | grep -E "PASSED|FAILED|ERROR|passed|failed" | tail -30
  wait
fi

if [[ $STEPS == *" bench "* ]]; then
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of options
  timeout "${BENCH_TIMEOUT:-330}" python3 -m bench.gpu_bench --models qwen-0.5b,llama-1b --models-dir "$MODELS" \
    --profile-configs hf-lora-fast ${BENCH_ARGS:-} --json "$OUT/gpu_bench.json" 2>"$OUT/gpu_bench.err" | tee "$OUT/gpu_bench.log"
  tail -c 2500 "$OUT/gpu_bench.err"
fi

if [[ $STEPS == *" big "* ]]; then
  timeout "${BIG_TIMEOUT:-260}" python3 -m bench.gpu_bench --models llama-8b --configs hf-lora,hf-qlora,unsloth-qlora \
    --batch 2 --accumulation 4 --length 2048 --lora-r 32 --steps 3 --warmup 2 --models-dir "$MODELS" \
    --json "$OUT/gpu_bench_8b.json" 2>"$OUT/gpu_bench_8b.err" | tee "$OUT/gpu_bench_8b.log"
  tail -c 1500 "$OUT/gpu_bench_8b.err"
fi

if [[ $STEPS == *" estimate "* ]]; then
  timeout "${ESTIMATE_TIMEOUT:-200}" python3 -m bench.memory_check --only-real-size 2>"$OUT/estimate.err" | tee -a "$OUT/estimates.txt"
  tail -c 1500 "$OUT/estimate.err"
fi
