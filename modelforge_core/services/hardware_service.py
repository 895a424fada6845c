"""``HardwareService``: what this machine has (CPU, RAM, GPUs, disk) and its compute profile.

GPUs are read through NVML (nvidia-ml-py), so the app process never needs torch for this. No GPU
is a valid answer (the ``cpu`` profile), never an error; NVML's own errors are caught.

Profiles (the seed's, plus ``cpu``), from the total memory of all NVIDIA GPUs and the RAM:
``cpu`` without a GPU; ``low_end`` below 7.2 GB of VRAM; ``high_end`` at 15.2 GB of VRAM or more
with 15.2 GB of RAM or more; ``mid_range`` otherwise.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path

import psutil

from ..logging_config import get_logger

log = get_logger("hardware")
GB = 1024**3
LOW_END_VRAM_GB = 7.2
HIGH_END_GB = 15.2
PACKAGES = ("torch", "transformers", "trl", "peft", "bitsandbytes", "unsloth", "datasets", "gradio")

PROFILE_DEFAULTS = {
    "cpu": {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "max_seq_length": 512, "use_4bit": False, "bf16": False},
    "low_end": {"per_device_train_batch_size": 1, "gradient_accumulation_steps": 8, "max_seq_length": 1024, "use_4bit": True, "bf16": False},
    "mid_range": {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 4, "max_seq_length": 2048, "use_4bit": True, "bf16": True},
    "high_end": {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 2, "max_seq_length": 2048, "use_4bit": False, "bf16": True},
}


def compute_profile(gpu_memory_gb: float, ram_gb: float) -> str:
    """The profile for ``gpu_memory_gb`` of total GPU memory (0: no GPU) and ``ram_gb`` of RAM."""
    if gpu_memory_gb <= 0:
        return "cpu"
    if gpu_memory_gb < LOW_END_VRAM_GB:
        return "low_end"
    if gpu_memory_gb >= HIGH_END_GB and ram_gb >= HIGH_END_GB:
        return "high_end"
    return "mid_range"


def profile_defaults(profile: str) -> dict:
    """Training defaults (batch, accumulation, sequence length, 4-bit, bf16) for a profile."""
    return dict(PROFILE_DEFAULTS.get(profile, PROFILE_DEFAULTS["cpu"]))


def nvidia_gpus() -> list[dict]:
    """Every NVIDIA GPU NVML sees; [] when there is none or NVML is missing."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return []
    gpus = []
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
                "driver": driver,
            }
            gpu.update(_optional_gpu_fields(pynvml, handle))
            gpus.append(gpu)
    except pynvml.NVMLError as exc:
        log.warning("NVML query failed", extra={"fields": {"error": str(exc)}})
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass
    return gpus


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


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str | None]:
    """Installed versions of the ML packages, read from metadata (nothing is imported)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


class HardwareService:
    """Detects the machine once per call; cheap enough to call on every page load."""

    def __init__(self, home: Path):
        self.home = Path(home)

    def detect(self) -> dict:
        gpus = nvidia_gpus()
        ram = psutil.virtual_memory()
        disk = shutil.disk_usage(self.home if self.home.exists() else Path.home())
        gpu_memory = sum(g["memory_total_gb"] for g in gpus)
        profile = compute_profile(gpu_memory, ram.total / GB)
        return {
            "cpu": {
                "model": _cpu_name(),
                "cores_physical": psutil.cpu_count(logical=False),
                "cores_logical": psutil.cpu_count(logical=True),
            },
            "ram_total_gb": round(ram.total / GB, 2),
            "ram_available_gb": round(ram.available / GB, 2),
            "gpus": gpus,
            "apple_mps": sys.platform == "darwin" and platform.machine() == "arm64",
            "disk_free_gb": round(disk.free / GB, 1),
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(),
            "packages": package_versions(),
            "compute_profile": profile,
            "profile_defaults": profile_defaults(profile),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        }
