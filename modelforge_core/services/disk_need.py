"""Will the run's files fit on the data folder's disk? Checked before a job exists.

A run writes up to three checkpoints at once (the trainer keeps two and writes the next before it
deletes the oldest), each holding the trained weights and the optimizer state, then the final model.
"""

from __future__ import annotations

from pathlib import Path

from ..disk import free_bytes, size_in_words
from ..exceptions import ModelForgeException, TrainingError
from ..logging_config import get_logger

log = get_logger("disk")
CHECKPOINTS_AT_ONCE = 3
MARGIN_BYTES = 20 * 1024**2  # tokenizer, events, logs, the database's growth
OPTIMIZER_BYTES_PER_PARAM = {"sgd": 0, "8bit": 2}
WARN_FACTOR = 2


def _optimizer_bytes_per_param(optim: str) -> int:
    name = optim.lower()
    return next((size for tag, size in OPTIMIZER_BYTES_PER_PARAM.items() if tag in name), 8)  # Adam: two fp32 states


def run_disk_need(config) -> int | None:
    """Bytes the run will write at its peak; None when the model's size cannot be read."""
    from .hardware_service import trainable_parameters

    try:
        trainable = trainable_parameters(config)
    except (ModelForgeException, OSError, ValueError, KeyError) as exc:
        log.info("disk need unknown", extra={"fields": {"model": config.model_name, "error": str(exc)}})
        return None
    weight_bytes = 2 if config.finetuning_type == "full" and (config.bf16 or config.fp16) else 4
    weights = trainable * weight_bytes
    checkpoint = weights + trainable * _optimizer_bytes_per_param(config.optim) + 1024**2
    stages = 2 if config.strategy == "rlhf" else 1  # a reward model, then the policy
    return stages * (CHECKPOINTS_AT_ONCE * checkpoint + weights) + MARGIN_BYTES


def check_disk_space(config, home: Path) -> str | None:
    """Raise TrainingError when the run cannot fit on home's disk; a warning in words when it is tight."""
    need = run_disk_need(config)
    if need is None:
        return None
    free = free_bytes(home)
    if free < need:
        raise TrainingError(
            f"Not enough disk space for this run: it writes about {size_in_words(need)} (checkpoints and the model) "
            f"and the disk holding the data folder ({home}) has {size_in_words(free)} free.",
            "Free space on that disk, move MODELFORGE_HOME (python app.py --data-dir PATH) to a bigger one, "
            "or train fewer weights (LoRA instead of full fine-tuning, a lower lora_r).",
        )
    if free < WARN_FACTOR * need:
        return (f"Disk space is tight: the run writes about {size_in_words(need)} and the data folder's disk has "
                f"{size_in_words(free)} free.")
    return None
