"""How a job's worker is started: one process, or ``accelerate launch`` with the config the studio writes.

One process: ``python -m modelforge_core.worker JOB``. Several (``num_processes`` > 1 or
``num_machines`` > 1): ``python -m accelerate.commands.launch --config_file <run>/accelerate_config.yaml
-m modelforge_core.worker JOB``, where the config file is generated here from the job's config
(DDP, FSDP, or DeepSpeed ZeRO-2/3; the machines, ranks and rendezvous port). No GPU: accelerate still
starts the processes (as for GPUs), and each trains on the CPU over PyTorch's gloo backend (the
training arguments say ``use_cpu``), since accelerate's own CPU mode needs MPI for several processes.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import yaml

from ..files import write_text_atomic

ACCELERATE_CONFIG_NAME = "accelerate_config.yaml"
DEFAULT_MAIN_PROCESS_PORT = 29500
SHARDED_METHODS = ("fsdp", "deepspeed-zero3")  # the weights themselves are divided among the processes
SHARED_RUN_DIR_ENV = "MODELFORGE_SHARED_RUN_DIR"  # "1": this machine (not machine 0) uses machine 0's run folder
DISTRIBUTED_TYPES = {"ddp": "MULTI_GPU", "fsdp": "FSDP", "deepspeed-zero2": "DEEPSPEED", "deepspeed-zero3": "DEEPSPEED"}


def is_distributed(config) -> bool:
    """True when the job trains on more than one process."""
    return config.world_size > 1


def free_port() -> int:
    """A TCP port free on this machine now: jobs side by side each need their own rendezvous port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _mixed_precision(config, has_cuda: bool) -> str:
    if not has_cuda:
        return "no"
    return "bf16" if config.bf16 else "fp16" if config.fp16 else "no"


def _fsdp_config(config) -> dict:
    """FSDP2, one unit per decoder block (the model's own ``_no_split_modules``); checkpoints gathered whole, so that
    a run resumes at another number of processes."""
    return {
        "fsdp_version": 2,
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_reshard_after_forward": True,
        "fsdp_state_dict_type": "FULL_STATE_DICT",
        "fsdp_cpu_ram_efficient_loading": True,
        "fsdp_offload_params": False,
        "fsdp_activation_checkpointing": config.gradient_checkpointing,
    }


def _deepspeed_config(config) -> dict:
    stage = 3 if config.distributed == "deepspeed-zero3" else 2
    settings = {
        "zero_stage": stage,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "gradient_clipping": config.max_grad_norm,
        "offload_optimizer_device": "none",
        "offload_param_device": "none",
    }
    if stage == 3:
        settings.update(zero3_init_flag=True, zero3_save_16bit_model=True)
    return settings


def accelerate_config(config, machine_rank: int, port: int, has_cuda: bool) -> dict:
    """The accelerate config file's fields for ``config`` on machine ``machine_rank``."""
    fields = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": DISTRIBUTED_TYPES[config.distributed],
        "mixed_precision": _mixed_precision(config, has_cuda),
        "num_machines": config.num_machines,
        "num_processes": config.world_size,
        "machine_rank": machine_rank,
        "main_process_ip": config.main_process_ip or "127.0.0.1",
        "main_process_port": port,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": False,
        "gpu_ids": "all",  # the job's GPUs are chosen by CUDA_VISIBLE_DEVICES, set by the queue
        "downcast_bf16": "no",
        "main_training_function": "main",
        "enable_cpu_affinity": False,
        "debug": False,
    }
    if config.distributed == "fsdp":
        fields["fsdp_config"] = _fsdp_config(config)
    elif config.distributed.startswith("deepspeed"):
        fields["deepspeed_config"] = _deepspeed_config(config)
    return fields


def write_accelerate_config(config, run_root: Path, machine_rank: int, port: int, has_cuda: bool) -> Path:
    """Write ``accelerate_config.yaml`` into the run folder; machines 1..M-1 write ``accelerate_config.machine<R>.yaml``,
    as they may share machine 0's run folder."""
    name = ACCELERATE_CONFIG_NAME if machine_rank == 0 else f"accelerate_config.machine{machine_rank}.yaml"
    header = (
        "# Written by ModelForge for this job; `accelerate launch --config_file` reads it.\n"
        + ("" if has_cuda else "# No GPU here: accelerate starts the processes, and each trains on the CPU (gloo).\n")
    )
    fields = accelerate_config(config, machine_rank, port, has_cuda)
    return write_text_atomic(Path(run_root) / name, header + yaml.safe_dump(fields, sort_keys=False))


def worker_environment(config, has_cuda: bool, shared_run_dir: bool = False) -> dict[str, str]:
    """What the job's processes need in their environment beyond the app's.

    A CPU job: the plain "cpu" device (accelerate would say "cpu:0", which torch.load cannot map a resumed
    optimizer state to). ``shared_run_dir``: this machine uses machine 0's run folder, so it keeps no
    checkpoints of its own (see ``strategies/training_args.distributed_training_kwargs``).
    """
    environment = {"ACCELERATE_TORCH_DEVICE": "cpu"} if is_distributed(config) and not has_cuda else {}
    if shared_run_dir:
        environment[SHARED_RUN_DIR_ENV] = "1"
    return environment


def worker_command(job_id: str, config, run_root: Path, machine_rank: int = 0, has_cuda: bool = False,
                   run_dir_arg: bool = False) -> list[str]:
    """The command that runs the job's worker on this machine (all its processes).

    ``run_dir_arg``: the worker is told its run folder (a machine other than machine 0, whose run folder is its own).
    """
    if not is_distributed(config):
        return [sys.executable, *_worker_module(job_id, run_root, run_dir_arg)]
    return accelerate_command(job_id, config, run_root, machine_rank, has_cuda, run_dir_arg)


def _worker_module(job_id: str, run_root: Path, run_dir_arg: bool) -> list[str]:
    return ["-m", "modelforge_core.worker", job_id] + (["--run-dir", str(run_root)] if run_dir_arg else [])


def accelerate_command(job_id: str, config, run_root: Path, machine_rank: int = 0, has_cuda: bool = False,
                       run_dir_arg: bool = False) -> list[str]:
    """``accelerate launch`` of the worker with the job's generated config (any number of processes, one too)."""
    port = config.main_process_port
    if port is None:
        port = free_port() if config.num_machines == 1 else DEFAULT_MAIN_PROCESS_PORT
    config_file = write_accelerate_config(config, run_root, machine_rank, port, has_cuda)
    worker = _worker_module(job_id, run_root, run_dir_arg)
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_file), *worker]
