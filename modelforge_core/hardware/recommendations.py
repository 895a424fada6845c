"""Models that really fit a machine, with the strategy that makes them fit, checked by the estimator.

Each recommendation carries ``settings``: every TrainingConfig field of the run it was estimated
for (the profile's defaults, the run fields at TrainingConfig's defaults, or the demo's own for a
demo model). Its peak is the estimate of exactly that config (:func:`recommendation_config`), so
the Finetune tab, the CLI and the HTTP estimate give the same number for the same settings.
"""

from __future__ import annotations

from pydantic import ValidationError

from ..demo import DEMO_TRAINING
from ..providers.model_classes import check_model_serves_task
from ..schemas import TrainingConfig
from ..strategies.strategy_factory import StrategyFactory
from .catalog import CPU_MAX_PARAMS, catalog_for
from .estimator import GB, TrainingPlan, Verdict, estimate_memory, verdict
from .gpu_fill import fill_for, filled
from .model_shape import model_shape
from .profiles import profile_defaults

DEMO_NOTE = "demo model, trains offline"
# Run fields a recommendation sets besides the profile's: what decides memory (adapter, optimizer,
# fast paths) and the schedule. Hub models get TrainingConfig's defaults; demo models the demo's.
RUN_FIELDS = (
    "finetuning_type", "learning_rate", "num_train_epochs", "max_steps", "warmup_ratio", "lora_r", "lora_alpha",
    "lora_dropout", "target_modules", "optim", "packing", "padding_free", "chunked_loss", "eval_steps",
    "logging_steps", "save_steps",
)


def run_defaults() -> dict:
    """TrainingConfig's defaults for :data:`RUN_FIELDS`."""
    return {name: TrainingConfig.model_fields[name].default for name in RUN_FIELDS}


def base_settings(profile: str, device: str, bf16: bool, demo: bool = False) -> dict:
    """The settings a recommendation starts from: the profile's defaults, then the demo's for a demo model."""
    settings = {**run_defaults(), **profile_defaults(profile, device, bf16)}
    if demo:
        settings.update(DEMO_TRAINING)
    return settings


def recommendation_config(model_id: str, task: str, settings: dict, dataset: str = "(estimate)") -> TrainingConfig:
    """The TrainingConfig of a recommended run: what its estimate is made from."""
    return TrainingConfig(model_name=model_id, dataset=dataset, task=task, **settings)


def human_count(params: int) -> str:
    """494032768 -> '494M', 7615616512 -> '7.6B', 660096 (a demo model) -> '0.7M'."""
    if params >= 1e9:
        return f"{params / 1e9:.1f}B"
    return f"{params / 1e6:.0f}M" if params >= 1e7 else f"{params / 1e6:.1f}M"


def _batch_ladder(settings: dict) -> list[dict]:
    """The settings, then smaller batches with more accumulation (the effective batch kept)."""
    batch = settings["per_device_train_batch_size"]
    effective = batch * settings["gradient_accumulation_steps"]
    sizes = [batch, batch // 2, 1]
    return [
        {**settings, "per_device_train_batch_size": size, "gradient_accumulation_steps": max(1, effective // size)}
        for i, size in enumerate(sizes) if size >= 1 and size not in sizes[:i]
    ]


def _fitting(model_id: str, task: str, shape, settings: dict, device: str, budget: float) -> tuple[dict, dict] | None:
    """(settings, estimate) of the first rung of the batch ladder that fits, or None. A rung the config refuses (KTO
    needs two rows per batch) is no candidate."""
    for candidate in _batch_ladder(settings):
        try:
            config = recommendation_config(model_id, task, candidate)
        except ValidationError:
            continue
        plan = TrainingPlan.from_config(config, device)
        plan = filled(plan, fill_for(config, shape, plan, budget))  # estimated as the worker will train it
        estimate = estimate_memory(shape, plan)
        if verdict(estimate, budget) is Verdict.FITS:
            return candidate, estimate.to_dict()
    return None


def _with_strategy(settings: dict, strategy: str, four_bit: bool) -> dict:
    return {**settings, "strategy": strategy, "use_4bit": four_bit or strategy == "qlora"}


# Strategies whose every model FSDP can shard (RLHF's reward model is not: it trains on one device or with DDP).
SHARDABLE = frozenset(("sft", "qlora", "dpo", "kto", "orpo", "simpo", "grpo"))


def _sharded(settings: dict, gpus: int) -> dict:
    """The settings on all ``gpus`` GPUs with FSDP (weights, gradients and optimizer state divided among them)."""
    return {**settings, "num_processes": gpus, "distributed": "fsdp"}


def _candidates(base: dict, strategy: str, device: str, demo: bool, gpus: int) -> list[dict]:
    """Settings to try for ``strategy``, simplest first: 16-bit on one device; 4-bit (DPO, RLHF on CUDA); then,
    with several GPUs, FSDP over all of them (16-bit, then 4-bit)."""
    tries = [_with_strategy(base, strategy, False)]
    four_bit = strategy in ("dpo", "rlhf") and device == "cuda" and not demo
    if four_bit:
        tries.append(_with_strategy(base, strategy, True))
    if device == "cuda" and gpus > 1 and not demo and strategy in SHARDABLE:
        tries += [_sharded(settings, gpus) for settings in tries]
    return tries


def _recommendation(model_id: str, model_config: dict, task: str, budget: float, base: dict, device: str,
                    note: str, demo: bool, gpus: int = 1) -> dict | None:
    shape = model_shape(model_config, check_model_serves_task(model_id, model_config, task))
    if device == "cpu" and shape.total_params > CPU_MAX_PARAMS:
        return None
    fits_with, chosen = [], {}
    for strategy in StrategyFactory.strategies_for(task):
        if strategy == "qlora" and (device != "cuda" or demo):
            continue
        found = next(
            (hit for candidate in _candidates(base, strategy, device, demo, gpus)
             if (hit := _fitting(model_id, task, shape, candidate, device, budget)) is not None),
            None,
        )
        if found is not None:
            settings, estimate = found
            chosen[strategy] = settings
            fits_with.append({
                "strategy": strategy, "use_4bit": settings["use_4bit"], "batch_size": settings["per_device_train_batch_size"],
                "peak_gb": estimate["peak_gb"], "gpus": settings.get("num_processes", 1),
                "distributed": settings.get("distributed") if settings.get("num_processes", 1) > 1 else None,
            })
    primary = next((f for f in fits_with if f["strategy"] in ("sft", "qlora")), None)
    if primary is None:
        return None
    return {
        "model_id": model_id,
        "task": task,
        "params": shape.total_params,
        "params_label": human_count(shape.total_params),
        "note": note,
        "demo": demo,
        "strategy": primary["strategy"],
        "peak_gb": primary["peak_gb"],
        "fits_with": fits_with,
        "settings": chosen[primary["strategy"]],
    }


def recommend(task: str, memory_gb: float, profile: str, device: str, bf16: bool = False,
              demo_models: list[tuple[str, dict]] = (), gpus: int = 1) -> list[dict]:
    """Catalog models for ``task`` that fit ``memory_gb`` on ``device``, largest first, then the demo models.

    Each comes with the strategies it fits with (4-bit only where 16-bit weights do not fit, and
    only on CUDA), its parameter count, the estimated peak and the settings that were estimated:
    the profile's defaults, with a smaller batch (and more accumulation) where that makes it fit.
    ``demo_models`` are (path, config.json) of the demo models that serve ``task``: they train
    offline, with the demo's settings (those of the Finetune tab's first run). With ``gpus`` > 1 (CUDA,
    ``memory_gb`` then being each GPU's), a model that fits no single GPU is tried with FSDP over all of
    them, and its peak is per GPU.
    """
    budget = memory_gb * GB
    found = []
    for entry in catalog_for(task):
        item = _recommendation(entry.model_id, entry.config, task, budget, base_settings(profile, device, bf16), device,
                               entry.note, demo=False, gpus=gpus)
        if item is not None:
            found.append(item)
    found.sort(key=lambda item: -item["params"])
    for path, model_config in demo_models:
        item = _recommendation(path, model_config, task, budget, base_settings(profile, device, bf16, demo=True), device,
                               DEMO_NOTE, demo=True)
        if item is not None:
            found.append(item)
    return found
