"""Starting a training worker process, and telling whether it still lives.

A worker is identified by its pid and the process's create time, so that a reused pid is never
taken for the worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

import modelforge_core

from ..settings import Settings

PACKAGE_PARENT = str(Path(modelforge_core.__file__).resolve().parent.parent)
# The worker's exit codes; a worker that records its job's end itself exits 0 (completed, stopped) or 1 (failed).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_DISK_FULL = 3  # the disk was full and the failure could not be recorded: the service records it


def spawn_worker(
    job_id: str, log_path: Path, settings: Settings, command: list[str] | None = None, extra_env: dict | None = None
) -> tuple[subprocess.Popen, float]:
    """Start the worker in its own session; returns (process, create time).

    ``command`` (default ``python -m modelforge_core.worker <job_id>``) may be ``accelerate launch`` of it
    (``training/launch.py``); ``extra_env`` adds to the environment (the job's CUDA_VISIBLE_DEVICES).
    """
    env = dict(os.environ)
    env.update(extra_env or {})
    env["MODELFORGE_HOME"] = str(settings.home)
    env["MODELFORGE_DATABASE_URL"] = settings.database_url
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            command or [sys.executable, "-m", "modelforge_core.worker", job_id],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(settings.home),
            start_new_session=os.name == "posix",
        )
    try:
        create_time = psutil.Process(process.pid).create_time()
    except psutil.Error:
        create_time = 0.0
    return process, create_time


def process_alive(pid: int | None, create_time: float | None) -> bool:
    """True when ``pid`` runs, is not a zombie, and (if known) was created at ``create_time``."""
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        if create_time and abs(process.create_time() - create_time) > 1.0:
            return False
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_process(pid: int | None, create_time: float | None) -> None:
    """SIGKILL the worker (and what it started) if it is the process we think it is."""
    if not process_alive(pid, create_time):
        return
    try:
        process = psutil.Process(pid)
        for child in process.children(recursive=True):
            child.kill()
        process.kill()
    except psutil.Error:
        pass
