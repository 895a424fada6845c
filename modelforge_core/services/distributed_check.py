"""Checks a job's several-process settings against this machine before it is queued.

More processes than the machine has devices, a sharding method without its package or without
GPUs, a provider or strategy that does not run sharded: each is refused in words, with what would work.
"""

from __future__ import annotations

import os

from ..exceptions import ConfigurationError
from ..packages import is_package_available
from .gpu_pool import GpuPool

DEEPSPEED_INSTALL = "pip install -r requirements-deepspeed.txt"
# strategies that hold a second trained model the sharded methods would not divide (rlhf's reward model)
NOT_SHARDED = {"rlhf": "it trains a reward model and then the policy against it, and the reward model is not sharded"}


def check_distributed(config, pool: GpuPool, cpu_cores: int | None = None) -> None:
    """ConfigurationError when ``config``'s processes, GPUs or method cannot run here; nothing for one process."""
    cpu_cores = cpu_cores or os.cpu_count() or 1
    if config.world_size == 1 and config.gpu_ids is None:
        return
    if config.world_size > 1 and config.provider == "unsloth":
        raise ConfigurationError(
            "The unsloth provider trains on one GPU: it does not run several processes.",
            "Set num_processes to 1, or use the huggingface provider to train on several GPUs.",
        )
    if not pool.gpus:
        _check_cpu(config, cpu_cores)
    else:
        _check_gpus(config, pool)
    if config.world_size == 1:
        return
    if config.distributed.startswith("deepspeed") and not is_package_available("deepspeed"):
        raise ConfigurationError(
            f"distributed '{config.distributed}' needs DeepSpeed, which is not installed.",
            f"{DEEPSPEED_INSTALL}, or pick ddp or fsdp.",
        )
    if config.distributed in ("fsdp", "deepspeed-zero3") and config.strategy in NOT_SHARDED:
        raise ConfigurationError(
            f"The {config.strategy} strategy cannot run with distributed '{config.distributed}': {NOT_SHARDED[config.strategy]}.",
            "Use distributed ddp or deepspeed-zero2 (each process holds the whole model, the optimizer state is divided).",
        )


def _check_cpu(config, cpu_cores: int) -> None:
    if config.gpu_ids is not None:
        raise ConfigurationError(
            f"gpu_ids {config.gpu_ids} names GPUs, and this machine has none.",
            "Leave gpu_ids out: several processes train on the CPU here.",
        )
    if config.world_size == 1:
        return
    if config.distributed != "ddp":
        raise ConfigurationError(
            f"distributed '{config.distributed}' needs NVIDIA GPUs: accelerate shards a model only across GPUs.",
            "On the CPU, several processes train data parallel: set distributed to ddp.",
        )
    if config.num_processes > cpu_cores:
        raise ConfigurationError(
            f"num_processes is {config.num_processes}, and this machine has {cpu_cores} CPU cores and no GPU.",
            f"Set num_processes to at most {cpu_cores}.",
        )


def _check_gpus(config, pool: GpuPool) -> None:
    wanted = pool.places_for(config)
    if isinstance(wanted, str):
        raise ConfigurationError(
            f"This job cannot run here: {wanted}.",
            f"Ask for at most {len(pool.gpus)} processes (one per GPU), and name GPUs from {', '.join(pool.gpus)}.",
        )


def resized_config(config, num_processes: int):
    """``config`` to resume on ``num_processes`` processes instead of its own, where its checkpoint allows it.

    DDP checkpoints hold the whole model and optimizer state (any number of processes reads them); the
    studio saves FSDP checkpoints whole too (FULL_STATE_DICT), read back by FSDP at any number of processes
    from 2. DeepSpeed ZeRO splits the optimizer state among the processes that wrote it: refused in words.
    """
    if num_processes == config.num_processes:
        return config
    if num_processes < 1:
        raise ConfigurationError(f"num_processes must be 1 or more, not {num_processes}.")
    keep = f"Resume with num_processes {config.num_processes} (as it was trained), or train again from the start."
    if config.num_machines > 1:
        raise ConfigurationError(
            f"This job trains on {config.num_machines} machines; its number of processes cannot change on resume.", keep
        )
    if config.world_size > 1 and config.distributed.startswith("deepspeed"):
        raise ConfigurationError(
            f"A {config.distributed} checkpoint is split among the {config.world_size} processes that wrote it: "
            f"{num_processes} processes cannot read it.", keep,
        )
    if config.world_size > 1 and config.distributed == "fsdp" and num_processes == 1:
        raise ConfigurationError(
            "An FSDP checkpoint is read back by FSDP: one process would start its optimizer state afresh.",
            "Resume with num_processes 2 or more, or as it was trained.",
        )
    return type(config).model_validate({**config.to_json_dict(), "num_processes": num_processes, "gpu_ids": None})
