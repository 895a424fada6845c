"""``HardwareService``: what this machine has, its compute profile, what it can train, and whether a run fits.

Readings come from ``modelforge_core.hardware`` (NVML, torch, psutil); the profile rule is in
``hardware/profiles.py``; the memory estimator in ``hardware/estimator.py`` (its ``Verdict`` is offered
here too, for the UI).
"""

from __future__ import annotations

import os
import platform
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import psutil

from ..exceptions import ConfigurationError, ModelAccessError
from ..hardware import detection
from ..hardware.catalog import known_config
from ..hardware.estimator import GB, TrainingPlan, Verdict, estimate_memory, suggest, verdict
from ..hardware.gpu_fill import fill_for, filled
from ..hardware.model_shape import model_shape
from ..hardware.profiles import PROFILE_REFERENCE_MEMORY_GB, compute_profile, profile_defaults
from ..hardware.recommendations import recommend, recommendation_config
from ..hardware.time_estimate import duration_words as duration_words  # the UI reads it from here
from ..model_kinds import ModelKind
from ..schemas.learning_rates import learning_rate_warning
from ..settings import Settings
from ..strategies.strategy_factory import StrategyFactory
from .machine import Machine
from .path_access import PathPolicy

# The CPU load is the busy share of the CPU time between two readings: the first reading (or one after
# a long pause) measures this long a window; later ones the time since the previous reading.
CPU_FIRST_WINDOW_S = 0.25
CPU_MAX_WINDOW_S = 10.0


def cpu_busy_percent(before, after) -> float:
    """The busy share of the CPU time between two ``psutil.cpu_times()`` readings, as psutil counts it."""

    def total(times) -> float:
        # guest time is already counted in user and nice on Linux
        return sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)

    def busy(times) -> float:
        return total(times) - times.idle - getattr(times, "iowait", 0.0)

    elapsed = total(after) - total(before)
    if elapsed <= 0:
        return 0.0
    return round(min(100.0, max(0.0, 100.0 * (busy(after) - busy(before)) / elapsed)), 1)


def training_device(machine: dict) -> str:
    """cuda, mps or cpu: where a job trains on this machine."""
    return detection.device_of(machine["torch"])


def training_memory_gb(machine: dict) -> float:
    """Memory a job can use: the largest GPU torch can use, or the RAM (CPU, and MPS which shares it)."""
    if training_device(machine) == "cuda":
        usable = machine["gpus"][: machine["torch"]["cuda_devices"]] or machine["gpus"]
        return max((gpu["memory_total_gb"] for gpu in usable), default=0.0)
    return machine["ram_total_gb"]


NO_DATASET = "(estimate)"  # the dataset of a config estimated without its data: memory only, no time


def training_gpus(machine: dict) -> tuple[int, float]:
    """(GPUs torch can train on, the memory of the smallest): on several GPUs a job may get any of them."""
    if training_device(machine) != "cuda":
        return 0, 0.0
    usable = machine.get("gpus", [])[: machine["torch"]["cuda_devices"]]
    if not usable:  # a machine described by hand: its GPUs are all of the memory it was given
        return machine["torch"]["cuda_devices"], machine["training_memory_gb"]
    return len(usable), min(gpu["memory_total_gb"] for gpu in usable)


class HardwareService:
    """Detects the machine (cheap: NVML and psutil; torch only where GPUs or MPS may be)."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self._torch: dict | None = None
        self._cpu_lock = threading.Lock()
        self._cpu_last: tuple[float, object] | None = None  # (monotonic time, psutil.cpu_times())

    def _torch_readings(self, gpus: list[dict]) -> dict:
        if not detection.needs_torch_probe(gpus):
            return {"cuda": False, "cuda_devices": 0, "cuda_version": None, "bf16": False, "mps": False}
        if self._torch is None:
            self._torch = detection.torch_accelerators()
        return self._torch

    def detect(self) -> dict:
        """The full report: CPU, RAM, disk, GPUs, torch's view, packages, profile and its defaults."""
        gpus, nvml_note = detection.nvidia_gpus()
        ram = psutil.virtual_memory()
        disk = shutil.disk_usage(self.home if self.home.exists() else Path.home())
        machine = {
            "cpu": {
                "model": detection.cpu_name(),
                "cores_physical": psutil.cpu_count(logical=False),
                "cores_logical": psutil.cpu_count(logical=True),
            },
            "ram_total_gb": round(ram.total / GB, 2),
            "ram_available_gb": round(ram.available / GB, 2),
            "gpus": gpus,
            "torch": self._torch_readings(gpus),
            "disk_free_gb": round(disk.free / GB, 1),
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(),
            "packages": detection.package_versions(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "notes": [note for note in (nvml_note,) if note],
        }
        machine["apple_mps"] = machine["torch"]["mps"]
        device = training_device(machine)
        memory = training_memory_gb(machine)
        profile = compute_profile(memory if device == "cuda" else 0.0, machine["ram_total_gb"], mps=device == "mps")
        machine.update(
            training_device=device,
            training_memory_gb=memory,
            compute_profile=profile,
            profile_reason=_profile_reason(machine, device, memory, profile),
            profile_defaults=profile_defaults(profile, device, machine["torch"]["bf16"]),
        )
        if gpus and device != "cuda":
            machine["notes"].append(
                "NVIDIA GPU found, but this torch cannot use it (a CPU-only build?): training runs on the CPU. "
                "Install a CUDA build of torch (see pytorch.org) to train on the GPU."
            )
        return machine

    def machine(self) -> Machine:
        """``detect()``'s report, read by attribute."""
        return Machine.from_report(self.detect())

    def live(self) -> dict:
        """Current load: GPU memory and utilization per GPU, CPU percent and RAM in use."""
        gpus, _ = detection.nvidia_gpus()
        ram = psutil.virtual_memory()
        return {
            "gpus": [
                {k: gpu.get(k) for k in ("index", "name", "memory_used_gb", "memory_total_gb", "utilization_percent")} for gpu in gpus
            ],
            "cpu_percent": self.cpu_percent(),
            "ram_used_gb": round((ram.total - ram.available) / GB, 2),
            "ram_total_gb": round(ram.total / GB, 2),
        }

    def cpu_percent(self) -> float:
        """The CPU load now, in percent: real from the first reading.

        ``psutil.cpu_percent(interval=None)`` answers 0.0 at its first call (and per thread, and
        Gradio runs each call on any of its threads). Here the CPU times are compared with this
        service's previous reading, or, for the first one, with a reading ``CPU_FIRST_WINDOW_S`` before.
        """
        with self._cpu_lock:
            elapsed = time.monotonic() - self._cpu_last[0] if self._cpu_last else None
            if elapsed is None or elapsed > CPU_MAX_WINDOW_S:
                before = psutil.cpu_times()
                time.sleep(CPU_FIRST_WINDOW_S)
            else:
                before = self._cpu_last[1]
                time.sleep(max(0.0, CPU_FIRST_WINDOW_S - elapsed))  # two readings close together
            after = psutil.cpu_times()
            self._cpu_last = (time.monotonic(), after)
        return cpu_busy_percent(before, after)

    def demo_models(self, task: str) -> list[tuple[str, dict]]:
        """(path, config.json) of the demo model that serves ``task``, once it is built (the app builds it at start)."""
        from ..providers.model_source import read_model_config
        from .model_catalog import ModelCatalog

        path = ModelCatalog(Settings(home=self.home)).demo_model_for_task(task)
        if not (Path(path) / "config.json").is_file():
            return []
        try:
            return [(path, read_model_config(path))]
        except ModelAccessError:
            return []

    def recommendations(self, task: str, machine: dict | None = None, with_time: bool = False) -> list[dict]:
        """Models for ``task`` that fit this machine, with their strategy, size and estimated peak;
        the demo model last (it trains offline). ``with_time`` (this machine's own report): each also gets
        ``step_s``, the seconds of one step at its settings on rows of max_seq_length tokens, here."""
        if task not in StrategyFactory.tasks():
            raise ConfigurationError(f"Unknown task '{task}'.", f"Pick one of: {', '.join(StrategyFactory.tasks())}.")
        machine = machine or self.detect()
        gpus, smallest_gb = training_gpus(machine)
        items = recommend(
            task, smallest_gb if gpus > 1 else _budget_gb(machine), machine["compute_profile"], machine["training_device"],
            machine["torch"]["bf16"], demo_models=self.demo_models(task), gpus=gpus,
        )
        if with_time:
            from ..hardware.run_timing import RunTiming, compute_dtype, step_seconds
            from ..providers.model_source import read_model_config

            device, timing, speeds = machine["training_device"], RunTiming(self.home), {}
            for item in items:
                config = recommendation_config(item["model_id"], task, item["settings"])
                model_config = known_config(config.model_name) or read_model_config(config.model_name)
                shape, _, _ = _shape_and_plan(config, device)
                dtype = compute_dtype(model_config, config, device)
                speed = speeds.get(dtype) or speeds.setdefault(dtype, timing.speed(device, dtype))  # one fit per dtype
                item["step_s"] = round(step_seconds(shape, config, speed), 3)
        return items

    def estimate_time(self, config, machine: dict | None = None) -> dict:
        """How long ``config``'s run takes here: per step, training, evaluation, in all (needs its dataset)."""
        PathPolicy.from_env().check_dataset(config.dataset)
        PathPolicy.from_env().check_model(config.model_name)
        machine = machine or self.detect()
        return estimate_run_time(self.home, config, machine["training_device"])

    def estimate(self, config, machine: dict | None = None, always_suggest: bool = False) -> dict:
        """Will ``config`` (a TrainingConfig) fit here? The estimate, the verdict and changes that would help
        (only when it does not fit, unless ``always_suggest``: after a real out-of-memory error)."""
        PathPolicy.from_env().check_model(config.model_name)  # it reads the model folder's config.json
        machine = machine or self.detect()
        device = machine["training_device"]
        budget = _budget_gb(machine) * GB
        shape, plan, reward = _shape_and_plan(config, device)
        fill = fill_for(config, shape, plan, budget)  # what the worker will train on this GPU (nothing elsewhere)
        plan = filled(plan, fill)
        estimate = estimate_memory(shape, plan, reward)
        result = {
            **estimate.to_dict(),
            "device": device,
            "available_gb": round(budget / GB, 2),
            "verdict": verdict(estimate, budget),
            "params": shape.total_params,
        }
        other = estimate_memory(shape, replace(plan, gradient_checkpointing=not plan.gradient_checkpointing), reward)
        result["other_checkpointing"] = {"gradient_checkpointing": not plan.gradient_checkpointing, "peak_gb": round(other.total / GB, 3)}
        wanted = always_suggest or result["verdict"] is not Verdict.FITS
        result["suggestions"] = suggest(shape, plan, budget, reward) if wanted else []
        result["warnings"] = [text for text in (learning_rate_warning(config),) if text]
        result["gpu_fill"] = fill.words or None
        return result


def estimate_run_time(home: Path, config, device: str) -> dict:
    """How long ``config``'s run takes on this machine (``run_timing``): from its dataset's rows (a sample,
    tokenized as its strategy does), the model's shape and the machine's speed fitted to its earlier runs."""
    from ..data.pipeline import load_training_splits
    from ..hardware.run_timing import RunTiming, compute_dtype, work_for_config
    from ..providers.model_source import read_model_config
    from ..providers.provider_factory import ProviderFactory
    from ..strategies.strategy_factory import StrategyFactory

    shape, _, _ = _shape_and_plan(config, device)
    splits = load_training_splits(config)
    provider = ProviderFactory.create(config.provider)
    tokenizer = provider.load_tokenizer(config.model_name)
    strategy = StrategyFactory.create(config.strategy, provider=provider, output_dir=Path(home) / "timing")
    if hasattr(strategy, "kind"):  # a supervised strategy tokenizes by the model's kind (causal, seq2seq, QA)
        strategy.kind = shape.kind
    work = work_for_config(config, shape, splits.train, splits.eval, tokenizer, strategy)
    return RunTiming(home).estimate(work, device, compute_dtype(read_model_config(config.model_name), config, device))


def _budget_gb(machine: dict) -> float:
    """GPU: the training GPU's memory; CPU and MPS: the RAM free now (other programs keep theirs)."""
    if machine["training_device"] != "cuda" and "ram_available_gb" in machine:
        return machine["ram_available_gb"]
    return machine["training_memory_gb"]


def _profile_reason(machine: dict, device: str, memory: float, profile: str) -> str:
    if device == "cuda":
        return f"the largest GPU torch can use has {memory:.1f} GB, and the machine {machine['ram_total_gb']:.1f} GB of RAM"
    if device == "mps":
        return f"Apple GPU (MPS) sharing {machine['ram_total_gb']:.1f} GB of RAM"
    return "no GPU that torch can train on: small models only (the demo models train in about a minute on 2 idle cores)"


def _shape_and_plan(config, device: str):
    from ..providers.model_classes import check_model_serves_task
    from ..providers.model_source import read_model_config

    # A recommended model is estimated from its stored config.json, as the recommendations are:
    # the same number offline and online, and no Hub request.
    model_config = known_config(config.model_name) or read_model_config(config.model_name)
    model_class = check_model_serves_task(config.model_name, model_config, config.task)
    shape = model_shape(model_config, model_class)
    reward = None
    if config.strategy == "rlhf" and config.reward_model:
        reward = model_shape(read_model_config(config.reward_model), ModelKind.REWARD.auto_class)
    return shape, TrainingPlan.from_config(config, device), reward


def estimate_config(config, device: str = "cpu") -> dict:
    """The estimator's figure for ``config`` on ``device``, without reading this machine."""
    shape, plan, reward = _shape_and_plan(config, device)
    return estimate_memory(shape, plan, reward).to_dict()


def given_machine(device: str, memory_gb: float, bf16: bool = True) -> dict:
    """A machine described by hand (``estimate --device cuda --memory-gb 24``), not detected."""
    profile = compute_profile(memory_gb if device == "cuda" else 0.0, memory_gb, mps=device == "mps")
    return {
        "compute_profile": profile,
        "training_device": device,
        "training_memory_gb": memory_gb,
        "torch": {"cuda": device == "cuda", "bf16": bf16 and device == "cuda", "mps": device == "mps", "cuda_devices": int(device == "cuda")},
    }


def reference_machine(profile: str) -> dict:
    """The smallest common machine of a profile (its recommendations must fit it)."""
    machine = given_machine("cpu" if profile == "cpu" else "cuda", PROFILE_REFERENCE_MEMORY_GB[profile], bf16=profile != "low_end")
    machine["compute_profile"] = profile
    return machine


def trainable_parameters(config) -> int:
    """The parameters the run trains: the LoRA adapters', or every weight for full fine-tuning (from config.json)."""
    shape, plan, _ = _shape_and_plan(config, "cpu")
    return shape.total_params if plan.full else shape.lora_params(config.lora_r, config.target_modules)
