"""Filling a large GPU (40 GB and more): bigger micro-batches and no recomputation where the memory estimate allows.

A user asks for an effective batch (``per_device_train_batch_size`` x ``gradient_accumulation_steps`` rows per
update). On a GPU with memory to spare, the same update trains faster as fewer, larger micro-batches (the
matrix products fill the GPU, and fixed costs per micro-step are paid fewer times), and without gradient
checkpointing (which spends about a third more compute to save activations). ``fill_plan`` picks the largest
micro-batch that divides the effective batch, and drops checkpointing, where the estimator's figure stays
within ``FILL_SHARE`` of the GPU's memory (the estimate is within about 30% of the measured peak).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .estimator import GB, TrainingPlan, estimate_memory
from .model_shape import ModelShape

FILL_SHARE = 0.6
LARGE_GPU_BYTES = 40 * GB  # A100, L40S, H100, H200 class: smaller GPUs keep the settings as asked


@dataclass(frozen=True)
class Fill:
    """The micro-batch settings to train with; ``update`` is empty when the config's own are kept."""

    update: dict
    words: str


def fill_for(config, shape: ModelShape, plan: TrainingPlan, gpu_bytes: float) -> Fill:
    """What the worker changes for ``config`` (a TrainingConfig) trained with ``plan`` on a GPU of ``gpu_bytes``: nothing
    unless the GPU is large, ``plan`` has the varlen kernel (a GPU, 16-bit, causal-LM SFT or QLoRA), one process and
    ``fill_gpu`` is on; else ``fill_plan``'s choice."""
    applies = config.fill_gpu and plan.varlen_attention and config.world_size == 1 and gpu_bytes >= LARGE_GPU_BYTES
    return fill_plan(shape, plan, config.gradient_accumulation_steps, gpu_bytes) if applies else Fill({}, "")


def filled(plan: TrainingPlan, fill: Fill) -> TrainingPlan:
    """``plan`` with the fill's micro-batch and checkpointing."""
    update = fill.update
    return replace(plan, batch_size=update.get("per_device_train_batch_size", plan.batch_size),
                   gradient_checkpointing=update.get("gradient_checkpointing", plan.gradient_checkpointing))


def fill_plan(shape: ModelShape, plan: TrainingPlan, accumulation: int, gpu_bytes: float) -> Fill:
    """The largest micro-batch (a divisor of the effective batch, at least the config's) and checkpointing off
    first, then on, whose estimate fits ``FILL_SHARE`` x ``gpu_bytes``."""
    batch, effective = plan.batch_size, plan.batch_size * accumulation
    budget = FILL_SHARE * gpu_bytes
    sizes = [size for size in range(effective, batch - 1, -1) if effective % size == 0 and size % batch == 0]
    checkpointing = (False, True) if plan.gradient_checkpointing else (False,)
    for recompute in checkpointing:
        for size in sizes:
            trial = replace(plan, batch_size=size, gradient_checkpointing=recompute)
            peak = estimate_memory(shape, trial).total
            if peak > budget:
                continue
            update = {}
            if size != batch:
                update.update(per_device_train_batch_size=size, gradient_accumulation_steps=effective // size)
            if recompute != plan.gradient_checkpointing:
                update["gradient_checkpointing"] = recompute
            if not update:
                return Fill({}, "")
            changes = []
            if size != batch:
                changes.append(f"micro-batch {batch} x {accumulation} accumulation steps -> {size} x {effective // size} "
                               f"(the same {effective} rows per update)")
            if "gradient_checkpointing" in update:
                changes.append("gradient checkpointing off")
            return Fill(update, f"{'; '.join(changes)}: estimated peak {peak / GB:.1f} GB of the GPU's {gpu_bytes / GB:.0f} GB")
    return Fill({}, "")
