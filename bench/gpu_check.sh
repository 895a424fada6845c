#!/usr/bin/env bash
# The GPU checks in one go, for a CUDA machine without network (issue 8): the GPU tests, then the
# GPU benchmark. Packages the machine lacks come unpacked from .gpu/site.tar.xz (see bench/RESULTS.md,
# "GPU"); logs and the benchmark's JSON go to $OUT (default /tmp/gpu-out).
#   bash bench/gpu_check.sh [TEST_TIMEOUT_S] [BENCH_TIMEOUT_S]
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
timeout "${1:-250}" python3 -m pytest -q -m gpu -rA -s -p no:cacheprovider -n 4 tests/test_gpu.py 2>&1 | tee "$OUT/gpu_tests.log" | tail -60
timeout "${2:-270}" python3 -m bench.gpu_bench --steps 12 --warmup 4 --json "$OUT/gpu_bench.json" 2>"$OUT/gpu_bench.err" | tee "$OUT/gpu_bench.log"
tail -c 3000 "$OUT/gpu_bench.err"
