"""Readings of this machine: NVIDIA GPUs through NVML, CUDA and Apple MPS through torch, CPU, RAM, disk.

NVML (nvidia-ml-py) needs no torch, so the app can list GPUs without loading it. torch is asked
only where it can add something: whether it can use the GPUs NVML found (a CPU-only torch build
cannot), bf16 support, and Apple's MPS on macOS. No GPU is a valid reading; NVML's errors
(``pynvml.NVMLError``, e.g. the library not found) are caught and reported as a note.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from ..logging_config import get_logger
from ..packages import import_pynvml, is_torch_available, package_version

log = get_logger("hardware")
GB = 1024**3
PACKAGES = ("torch", "transformers", "trl", "peft", "bitsandbytes", "unsloth", "datasets", "gradio")


def nvidia_gpus() -> tuple[list[dict], str | None]:
    """(every NVIDIA GPU NVML sees, a note when NVML could not be asked)."""
    pynvml = import_pynvml()
    if pynvml is None:
        return [], "nvidia-ml-py is not installed: NVIDIA GPUs cannot be listed."
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return [], f"NVML unavailable ({exc}): no NVIDIA driver found."
    gpus: list[dict] = []
    note = None
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpu = {
                "index": index,
                "name": _text(pynvml.nvmlDeviceGetName(handle)),
                "memory_total_gb": round(memory.total / GB, 2),
                "memory_free_gb": round(memory.free / GB, 2),
                "memory_used_gb": round(memory.used / GB, 2),
                "driver": driver,
            }
            gpu.update(_optional_gpu_fields(pynvml, handle))
            gpus.append(gpu)
    except pynvml.NVMLError as exc:
        note = f"NVML query failed: {exc}"
        log.warning("NVML query failed", extra={"fields": {"error": str(exc)}})
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass
    return gpus, note


def _optional_gpu_fields(pynvml, handle) -> dict:
    fields = {}
    for key, query in (
        ("compute_capability", lambda: ".".join(map(str, pynvml.nvmlDeviceGetCudaComputeCapability(handle)))),
        ("utilization_percent", lambda: pynvml.nvmlDeviceGetUtilizationRates(handle).gpu),
        ("temperature_c", lambda: pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)),
    ):
        try:
            fields[key] = query()
        except pynvml.NVMLError:
            continue
    return fields


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def torch_accelerators() -> dict:
    """What torch can use: {"cuda": bool, "cuda_devices": n, "cuda_version", "bf16": bool, "mps": bool}."""
    if not is_torch_available():
        return {"cuda": False, "cuda_devices": 0, "cuda_version": None, "bf16": False, "mps": False}
    import torch

    cuda = torch.cuda.is_available()
    return {
        "cuda": cuda,
        "cuda_devices": torch.cuda.device_count() if cuda else 0,
        "cuda_version": torch.version.cuda,
        "bf16": bool(cuda and torch.cuda.is_bf16_supported()),
        "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    }


def device_of(torch_readings: dict) -> str:
    """cuda, mps or cpu: where a job trains, from ``torch_accelerators()``'s readings."""
    if torch_readings["cuda"]:
        return "cuda"
    return "mps" if torch_readings["mps"] else "cpu"


def needs_torch_probe(gpus: list[dict]) -> bool:
    """torch is asked only when NVML found GPUs or on Apple silicon (where MPS may be)."""
    return bool(gpus) or (sys.platform == "darwin" and platform.machine() == "arm64")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str | None]:
    """Installed versions of the ML packages, read from metadata (nothing is imported)."""
    return {name: package_version(name) for name in PACKAGES}
