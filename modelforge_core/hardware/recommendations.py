"""Models that really fit a machine, with the strategy that makes them fit, checked by the estimator."""

from __future__ import annotations

from dataclasses import replace

from ..providers.model_classes import check_model_serves_task
from ..schemas import TrainingConfig
from .catalog import CPU_MAX_PARAMS, catalog_for
from .estimator import GB, TrainingPlan, estimate_memory, verdict
from .model_shape import model_shape
from .profiles import profile_defaults

TASK_STRATEGIES = {
    "text-generation": ("sft", "qlora", "dpo", "rlhf"),
    "summarization": ("sft", "qlora"),
    "extractive-question-answering": ("sft",),
}
FITTING = ("fits",)


def plan_for_profile(strategy: str, profile: str, device: str, bf16: bool, task: str = "text-generation") -> TrainingPlan:
    """The plan of the run a recommendation carries: the profile's defaults in a TrainingConfig."""
    defaults = profile_defaults(profile, device, bf16)
    config = TrainingConfig(
        model_name="(estimate)", dataset="(estimate)", task=task, strategy=strategy, use_4bit=strategy == "qlora",
        per_device_train_batch_size=defaults["per_device_train_batch_size"], max_seq_length=defaults["max_seq_length"],
        gradient_checkpointing=defaults["gradient_checkpointing"], bf16=defaults["bf16"], fp16=defaults["fp16"],
    )
    return TrainingPlan.from_config(config, device)


def human_count(params: int) -> str:
    """494032768 -> '494M', 7615616512 -> '7.6B'."""
    return f"{params / 1e9:.1f}B" if params >= 1e9 else f"{params / 1e6:.0f}M"


def _batch_ladder(plan: TrainingPlan) -> list[TrainingPlan]:
    """The profile's plan, then smaller batches (accumulation keeps the effective batch)."""
    sizes = [plan.batch_size, plan.batch_size // 2, 1]
    return [replace(plan, batch_size=size) for i, size in enumerate(sizes) if size >= 1 and size not in sizes[:i]]


def _fitting_plan(shape, plan: TrainingPlan, budget: float) -> tuple[TrainingPlan, float] | None:
    for candidate in _batch_ladder(plan):
        estimate = estimate_memory(shape, candidate)
        if verdict(estimate, budget) in FITTING:
            return candidate, estimate.total
    return None


def recommend(task: str, memory_gb: float, profile: str, device: str, bf16: bool = False) -> list[dict]:
    """Catalog models for ``task`` that fit ``memory_gb`` on ``device``, largest first.

    Each comes with the strategies it fits with (4-bit only where 16-bit weights do not fit, and
    only on CUDA), its parameter count, the estimated peak and the settings that were estimated:
    the profile's defaults, with a smaller batch (and more accumulation) where that makes it fit.
    """
    budget = memory_gb * GB
    defaults = profile_defaults(profile, device, bf16)
    found = []
    for entry in catalog_for(task):
        shape = model_shape(entry.config, check_model_serves_task(entry.model_id, entry.config, task))
        if device == "cpu" and shape.total_params > CPU_MAX_PARAMS:
            continue
        fits_with = []
        for strategy in TASK_STRATEGIES[task]:
            if strategy == "qlora" and device != "cuda":
                continue
            plan = plan_for_profile(strategy, profile, device, bf16, task)
            fitting = _fitting_plan(shape, plan, budget)
            if fitting is None and strategy in ("dpo", "rlhf") and device == "cuda":
                fitting = _fitting_plan(shape, replace(plan, use_4bit=True), budget)
            if fitting is not None:
                chosen, peak = fitting
                fits_with.append({"strategy": strategy, "use_4bit": chosen.four_bit, "batch_size": chosen.batch_size, "peak_gb": round(peak / GB, 2)})
        primary = next((f for f in fits_with if f["strategy"] in ("sft", "qlora")), None)
        if primary is None:
            continue
        effective = defaults["per_device_train_batch_size"] * defaults["gradient_accumulation_steps"]
        found.append({
            "model_id": entry.model_id,
            "task": task,
            "params": shape.total_params,
            "params_label": human_count(shape.total_params),
            "note": entry.note,
            "strategy": primary["strategy"],
            "peak_gb": primary["peak_gb"],
            "fits_with": fits_with,
            "settings": {
                **defaults,
                "strategy": primary["strategy"],
                "use_4bit": primary["use_4bit"],
                "per_device_train_batch_size": primary["batch_size"],
                "gradient_accumulation_steps": max(1, effective // primary["batch_size"]),
            },
        })
    return sorted(found, key=lambda item: -item["params"])
