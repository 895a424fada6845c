"""TrainingConfig -> the keyword arguments every TRL config shares (TrainingArguments fields)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..training.trackers import project_name


def resolve_precision(config: Any) -> tuple[bool, bool, str | None]:
    """(bf16, fp16, note): mixed precision only on a GPU that supports it; the note says what changed."""
    import torch

    if not torch.cuda.is_available():
        if config.bf16 or config.fp16:
            return False, False, "No GPU found: training in float32 on the CPU (bf16/fp16 turned off)."
        return False, False, None
    if config.bf16 and not torch.cuda.is_bf16_supported():
        return False, True, "This GPU has no bfloat16 support: training in float16 instead."
    return config.bf16, config.fp16, None


def common_training_kwargs(config: Any, output_dir: Path, has_eval: bool) -> dict:
    """Arguments for ``SFTConfig`` / ``DPOConfig`` / ... built from one TrainingConfig."""
    bf16, fp16, _ = resolve_precision(config)
    kwargs = {
        "output_dir": str(output_dir),
        "num_train_epochs": config.num_train_epochs,
        "max_steps": config.max_steps,
        "per_device_train_batch_size": config.per_device_train_batch_size,
        "per_device_eval_batch_size": config.per_device_eval_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler_type,
        "warmup_steps": config.warmup_ratio,
        "optim": config.optim,
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "seed": config.seed,
        "data_seed": config.seed,
        "logging_steps": config.logging_steps,
        "logging_nan_inf_filter": False,  # a NaN loss is shown as NaN, and the divergence guard stops the run
        "logging_first_step": True,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": 2,
        "gradient_checkpointing": config.gradient_checkpointing,
        "bf16": bf16,
        "fp16": fp16,
        "report_to": "none",  # the trackers are the studio's guarded callbacks (training/tracking.py)
        "run_name": config.run_name,
        "project": project_name(config),
        "disable_tqdm": True,
        "include_num_input_tokens_seen": "non_padding",
        "dataloader_num_workers": 0,
    }
    kwargs.update(distributed_training_kwargs(config))
    if has_eval:
        kwargs.update(
            eval_strategy="steps" if config.eval_steps else "epoch",
            eval_steps=config.eval_steps,
            eval_on_start=True,
        )
    else:
        kwargs["eval_strategy"] = "no"
    return kwargs


def distributed_training_kwargs(config: Any) -> dict:
    """What several processes change in the training arguments (nothing for one).

    No GPU: each process trains on the CPU over gloo (``use_cpu``). Several machines: each keeps its
    own checkpoints (``save_on_each_node``), so that each can resume without a shared disk; a machine
    that uses machine 0's run folder (a shared disk, ``SHARED_RUN_DIR_ENV``) leaves them to it. FSDP
    does the activation checkpointing itself (its config says so), so the trainer's own is turned off.
    """
    import torch

    from ..training.launch import SHARED_RUN_DIR_ENV

    if config.world_size == 1:
        return {}
    kwargs: dict = {}
    if not torch.cuda.is_available():
        kwargs["use_cpu"] = True
    if config.num_machines > 1 and os.environ.get(SHARED_RUN_DIR_ENV) != "1":
        kwargs["save_on_each_node"] = True
    if config.distributed == "fsdp":
        kwargs["gradient_checkpointing"] = False
    return kwargs
