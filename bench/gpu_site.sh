#!/usr/bin/env bash
# Builds .gpu/site.tar.xz: the Python packages a GPU machine without network lacks (its image has torch,
# transformers, accelerate, peft, triton), unpacked for Python 3.12 on x86-64 Linux, for bench/gpu_check.sh.
# Run where pip reaches PyPI:  bash bench/gpu_site.sh      (about 20 MB; .gpu/ is git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any)
# the pins of requirements*.txt, and the dependencies of trl, datasets, unsloth and ModelForge's core the image lacks
PACKAGES=(trl==1.14.2 datasets==4.8.5 bitsandbytes==0.50.2 unsloth==2026.10.9 unsloth_zoo==2026.10.9 liger-kernel==0.8.5
          tyro docstring-parser typeguard shtab torchao cut_cross_entropy msgspec hf_transfer json5 nest-asyncio
          dill==0.4.1 multiprocess==0.70.19 pydantic==2.13.4 pydantic_core==2.46.4 annotated-types==0.7.0
          typing-inspection==0.4.2 platformdirs==4.14.9 SQLAlchemy==2.1.9 greenlet==3.5.6 nltk==3.10.4)
rm -rf .gpu/whl .gpu/site && mkdir -p .gpu/whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLATFORMS[@]}" \
  -d .gpu/whl "${PACKAGES[@]}"
python3 -m pip wheel -q --no-deps -w .gpu/whl rouge_score==0.1.2  # published as a source archive only
python3 -m pip install -q --no-compile --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${PLATFORMS[@]}" --target .gpu/site .gpu/whl/*.whl
# what a CUDA 13 machine does not load: bitsandbytes' other builds, Unsloth's web app, torchao's tests
find .gpu/site/bitsandbytes -name 'libbitsandbytes_*.so' ! -name '*cuda130.so' ! -name '*cpu.so' -delete
rm -rf .gpu/site/studio .gpu/site/torchao/test .gpu/site/bin
find .gpu/site -name __pycache__ -prune -exec rm -rf {} +
tar -cJf .gpu/site.tar.xz -C .gpu site
ls -la .gpu/site.tar.xz
