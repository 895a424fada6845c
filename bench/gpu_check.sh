#!/usr/bin/env bash
# The GPU checks, for a CUDA machine without network (issue 8): the GPU tests, the memory estimator
# against torch.cuda.max_memory_allocated on real-size models, the GPU benchmark; all three unless
# some are named. Packages the machine lacks come unpacked from .gpu/site.tar.xz (see bench/RESULTS.md,
# "GPU"); logs and the benchmark's JSON go to $OUT (default /tmp/gpu-out).
#   bash bench/gpu_check.sh [tests] [estimate] [bench]
# Time limits (seconds): TESTS_TIMEOUT (250), ESTIMATE_TIMEOUT (200), BENCH_TIMEOUT (270);
# BENCH_ARGS picks cases, e.g. BENCH_ARGS="--models llama-1b --configs unsloth-qlora".
# Then, here: python -m bench.gpu_bench --report bench/gpu_bench_2026-11-27.json NEW.json
# Building .gpu/site.tar.xz on a machine with pip (Python 3.12 wheels: trl, datasets, bitsandbytes,
# unsloth, unsloth_zoo and their dependencies; see requirements*.txt):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 ... -d .whl NAME==VER
#   pip install --no-compile --no-deps --only-binary=:all: --python-version 3.12 --platform ... --target .gpu/site .whl/*.whl
#   then drop what a CUDA 13 machine does not load (bitsandbytes' other libbitsandbytes_*.so, unsloth's
#   studio/ web app, torchao's top-level test/) and: tar -cJf .gpu/site.tar.xz -C .gpu site
set -o pipefail
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
if [ -f .gpu/site.tar.xz ]; then
  mkdir -p /tmp/mf-site && tar -xJf .gpu/site.tar.xz -C /tmp/mf-site && export PYTHONPATH=/tmp/mf-site/site:$PWD
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 HF_DATASETS_OFFLINE=1
export UNSLOTH_DISABLE_STATISTICS=1 UNSLOTH_COMPILE_LOCATION=/tmp/unsloth-cache PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 - <<'PY' 2>&1 | tee -a "$OUT/gpu.txt"
import importlib.metadata as m
for name in ("torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "unsloth", "unsloth_zoo", "datasets", "triton"):
    try:
        print(name, m.version(name))
    except m.PackageNotFoundError:
        print(name, "missing")
PY
STEPS=" ${*:-tests estimate bench} "
if [[ $STEPS == *" tests "* ]]; then
  timeout "${TESTS_TIMEOUT:-250}" python3 -m pytest -q -m gpu -rA -p no:cacheprovider -n 4 tests/test_gpu.py 2>&1 \
    | tee "$OUT/gpu_tests.log" | tail -40
fi
if [[ $STEPS == *" estimate "* ]]; then
  timeout "${ESTIMATE_TIMEOUT:-200}" python3 -m bench.memory_check --only-real-size 2>"$OUT/estimate.err" | tee "$OUT/estimate.log"
  tail -c 1500 "$OUT/estimate.err"
fi
if [[ $STEPS == *" bench "* ]]; then
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of options
  timeout "${BENCH_TIMEOUT:-270}" python3 -m bench.gpu_bench --steps 12 --warmup 4 ${BENCH_ARGS:-} --json "$OUT/gpu_bench.json" \
    2>"$OUT/gpu_bench.err" | tee "$OUT/gpu_bench.log"
  tail -c 3000 "$OUT/gpu_bench.err"
fi
