"""Compute profiles and the training defaults that go with them.

The rule (the seed's thresholds, on the memory a training job can use):

- ``cpu``: no GPU torch can train on (no NVIDIA GPU, or a CPU-only torch build), and no Apple MPS.
- ``low_end``: a training GPU with less than 7.2 GB, or Apple MPS with less than 16 GB of RAM.
- ``high_end``: a training GPU with 15.2 GB or more, and 15.2 GB of RAM or more.
- ``mid_range``: everything between.

"A training GPU" is the largest single GPU: a job trains on one GPU, and data-parallel training on
several copies the whole model to each, so more GPUs add speed, not room. With Apple MPS the GPU
shares the RAM, so the profile uses the RAM (16 GB and more is mid_range, 32 GB high_end).
"""

from __future__ import annotations

from ..schemas.compute_profiles import PROFILE_DEFAULTS, PROFILES

__all__ = ["PROFILES", "PROFILE_DEFAULTS", "compute_profile", "profile_defaults", "precision_defaults"]

LOW_END_VRAM_GB = 7.2
HIGH_END_GB = 15.2
# The memory each profile's recommendations must fit in: the smallest common machine of the profile.
PROFILE_REFERENCE_MEMORY_GB = {"cpu": 8.0, "low_end": 6.0, "mid_range": 8.0, "high_end": 16.0}


def compute_profile(training_gpu_gb: float, ram_gb: float, mps: bool = False) -> str:
    """The profile for a training GPU of ``training_gpu_gb`` (0: none) and ``ram_gb`` of RAM."""
    if training_gpu_gb <= 0:
        if not mps:
            return "cpu"
        return "low_end" if ram_gb < 16 else "high_end" if ram_gb >= 32 else "mid_range"
    if training_gpu_gb < LOW_END_VRAM_GB:
        return "low_end"
    if training_gpu_gb >= HIGH_END_GB and ram_gb >= HIGH_END_GB:
        return "high_end"
    return "mid_range"


def precision_defaults(device: str, bf16_supported: bool) -> dict:
    """bf16 where the GPU supports it, fp16 on other NVIDIA GPUs, float32 on the CPU and MPS."""
    if device != "cuda":
        return {"bf16": False, "fp16": False}
    if bf16_supported:
        return {"bf16": True, "fp16": False}
    return {"bf16": False, "fp16": True}


def profile_defaults(profile: str, device: str = "cpu", bf16_supported: bool = False) -> dict:
    """Training defaults for a profile: batch, accumulation, sequence length, 4-bit, checkpointing, precision."""
    defaults = dict(PROFILE_DEFAULTS.get(profile, PROFILE_DEFAULTS["cpu"]))
    if device != "cuda":
        defaults["use_4bit"] = False  # bitsandbytes 4-bit trains at speed only on CUDA
    defaults.update(precision_defaults(device, bf16_supported))
    return defaults
