"""``Machine``: one reading of ``HardwareService.detect()``, typed, for code that reads it by attribute.

The report stays a plain dict where it travels as JSON (CLI, ``GET /api/hardware``) and where the
estimator takes it; ``Machine.report`` is that dict, so a view can be handed back to
``HardwareService.estimate`` and ``recommendations``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class CpuInfo:
    """The CPU: its name and its cores."""

    model: str
    cores_physical: int | None
    cores_logical: int | None


@dataclass(frozen=True)
class GpuInfo:
    """One NVIDIA GPU as NVML reports it; the optional readings are None where NVML could not give them."""

    index: int
    name: str
    memory_total_gb: float
    memory_free_gb: float
    memory_used_gb: float
    driver: str
    compute_capability: str | None = None
    utilization_percent: int | None = None
    temperature_c: int | None = None


@dataclass(frozen=True)
class TorchInfo:
    """What torch can use here: CUDA (how many devices, which version, bf16) and Apple's MPS."""

    cuda: bool
    cuda_devices: int
    cuda_version: str | None
    bf16: bool
    mps: bool


def _pick(cls, values: dict):
    """``cls`` from the keys of ``values`` that are its fields (a reading may hold more)."""
    return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


@dataclass(frozen=True)
class Machine:
    """The machine, its compute profile and the profile's training defaults."""

    cpu: CpuInfo
    ram_total_gb: float
    ram_available_gb: float
    disk_free_gb: float
    os: str
    python: str
    gpus: tuple[GpuInfo, ...]
    torch: TorchInfo
    packages: dict[str, str | None]
    notes: tuple[str, ...]
    cuda_visible_devices: str | None
    training_device: str
    training_memory_gb: float
    compute_profile: str
    profile_reason: str
    profile_defaults: dict
    report: dict = field(repr=False, compare=False)

    @classmethod
    def from_report(cls, report: dict) -> Machine:
        """The view of a ``detect()`` report."""
        return cls(
            cpu=_pick(CpuInfo, report["cpu"]),
            ram_total_gb=report["ram_total_gb"],
            ram_available_gb=report["ram_available_gb"],
            disk_free_gb=report["disk_free_gb"],
            os=report["os"],
            python=report["python"],
            gpus=tuple(_pick(GpuInfo, gpu) for gpu in report["gpus"]),
            torch=_pick(TorchInfo, report["torch"]),
            packages=dict(report["packages"]),
            notes=tuple(report["notes"]),
            cuda_visible_devices=report.get("cuda_visible_devices"),
            training_device=report["training_device"],
            training_memory_gb=report["training_memory_gb"],
            compute_profile=report["compute_profile"],
            profile_reason=report["profile_reason"],
            profile_defaults=dict(report["profile_defaults"]),
            report=report,
        )
