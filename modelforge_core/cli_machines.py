"""``train`` on several GPUs and several machines: the options, and how a machine other than machine 0 joins.

Machine 0 runs ``train --config cfg.json --num-machines 2 --machine-rank 0 --main-process-ip HOST``: the
job is queued as any other, and it prints what each other machine must run, ``train --job ID
--machine-rank R``. That command reads the job from the shared registry database (PostgreSQL),
writes the job's config into this machine's run folder and starts this machine's processes with
``accelerate launch``; they meet machine 0's at HOST and train the one job. Machine 0 alone records it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .exceptions import ConfigurationError, NotFoundError

LAUNCH_OPTIONS = {  # CLI option -> config field
    "num_processes": "num_processes", "distributed": "distributed", "num_machines": "num_machines",
    "main_process_ip": "main_process_ip", "main_process_port": "main_process_port",
}


def add_launch_arguments(train: argparse.ArgumentParser) -> None:
    group = train.add_argument_group("several GPUs or machines (accelerate launch)")
    group.add_argument("--num-processes", type=int, metavar="N", help="Processes on this machine: one per GPU.")
    group.add_argument("--distributed", choices=("ddp", "fsdp", "deepspeed-zero2", "deepspeed-zero3"))
    group.add_argument("--num-machines", type=int, metavar="M", help="Machines training the one job together.")
    group.add_argument("--machine-rank", type=int, default=0, metavar="R", help="This machine's rank (0: the main one).")
    group.add_argument("--main-process-ip", metavar="HOST", help="Address of machine 0, reachable from the others.")
    group.add_argument("--main-process-port", type=int, metavar="PORT", help="Port on machine 0 (default 29500).")
    group.add_argument("--job", metavar="ID", help="Machines 1..M-1: the job machine 0 started (it prints this).")


def launch_overrides(args: argparse.Namespace) -> dict:
    """The config fields the options set."""
    return {field: getattr(args, option) for option, field in LAUNCH_OPTIONS.items() if getattr(args, option) is not None}


def check_machine_rank(args: argparse.Namespace) -> None:
    """Machine 0 submits with ``--config``; another machine joins with ``--job``: say so when they are mixed up."""
    if args.machine_rank and not args.job:
        raise ConfigurationError(
            f"Machine {args.machine_rank} joins a job that machine 0 started; it does not submit one.",
            f"Run on machine 0 first; it prints the command for this machine: train --job ID --machine-rank {args.machine_rank}.",
        )
    if args.job and not args.machine_rank:
        raise ConfigurationError(
            "--job joins a job from another machine: give this machine's --machine-rank (1, 2, ...).",
            "Machine 0 starts the job with --config; the others join it with --job ID --machine-rank R.",
        )


def join_commands(job: dict) -> list[str]:
    """What machines 1..M-1 run to join ``job``."""
    machines = job["config"].get("num_machines", 1)
    return [f"python -m modelforge_core train --job {job['id']} --machine-rank {rank}" for rank in range(1, machines)]


def print_join_commands(job: dict, database_url: str) -> None:
    commands = join_commands(job)
    if not commands:
        return
    print(f"This is machine 0 of {len(commands) + 1}. On each other machine, with the same MODELFORGE_DATABASE_URL, run:")
    for command in commands:
        print(f"  {command}")
    if database_url.startswith("sqlite"):
        print("warning: the registry is a SQLite file on this machine; the other machines need the same database: "
              "set MODELFORGE_DATABASE_URL to a PostgreSQL database all of them reach.", file=sys.stderr)


def join_job(args: argparse.Namespace) -> int:
    """Start this machine's processes of a job machine 0 started; returns their exit code."""
    from .database.database_manager import DatabaseManager
    from .files import write_text_atomic
    from .hardware.detection import nvidia_gpus
    from .schemas import TrainingConfig
    from .settings import get_settings
    from .training.launch import worker_command, worker_environment
    from .training.run_files import RunFiles

    settings = get_settings().ensure_dirs()
    job = DatabaseManager(settings.database_url).get_job(args.job)
    if job is None:
        raise NotFoundError(
            f"No job {args.job} in the registry database this machine uses.",
            "Every machine must use machine 0's database: set MODELFORGE_DATABASE_URL to the same PostgreSQL URL.",
        )
    config = TrainingConfig.model_validate(job["config"])
    if not 0 < args.machine_rank < config.num_machines:
        raise ConfigurationError(
            f"Job {args.job} trains on {config.num_machines} machine(s): --machine-rank must be 1 to {config.num_machines - 1}.",
            "Machine 0 prints the command for each other machine.",
        )
    shared = Path(job["run_dir"]).is_dir()  # a disk shared with machine 0: its run folder is this machine's too
    run = RunFiles(Path(job["run_dir"]) if shared else settings.runs_dir / args.job)
    if not shared:
        write_text_atomic(run.config, config.model_dump_json(indent=2))
    has_cuda = bool(nvidia_gpus()[0])
    command = worker_command(args.job, config, run.root, args.machine_rank, has_cuda=has_cuda, run_dir_arg=True)
    print(f"Machine {args.machine_rank} of {config.num_machines}: joining job {args.job} at {config.main_process_ip}.")
    environment = {**os.environ, **worker_environment(config, has_cuda, shared), "MODELFORGE_HOME": str(settings.home)}
    return subprocess.run(command, env=environment, check=False).returncode
