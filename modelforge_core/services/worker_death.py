"""Why a training worker ended without recording its job's end, told from the evidence there is.

A worker that exits by itself without recording the end (the disk was full, the database could not
be written) made its job ``failed``; one killed by a signal, or gone while no app watched it, made
it ``interrupted``. Out of memory is named only when the evidence says so: the kernel's OOM record
for the worker's pid, or free memory near zero while it ran.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

from ..disk import MB, disk_full_error, free_bytes, size_in_words
from ..hardware.oom import kernel_oom_record
from .worker_process import EXIT_DISK_FULL

LOW_MEMORY_FRACTION = 0.05  # under 5 % of RAM available: memory was near the limit
LOW_DISK_BYTES = 50 * MB
RESUME_HINT = "Resume it to continue from its last complete checkpoint; the log is in worker.log."


@dataclass(frozen=True)
class WorkerEnd:
    """The job state and the words for a worker that died without recording its end."""

    status: str
    message: str
    hint: str


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_worker_end(
    returncode: int | None, pid: int | None, home: Path, log_path: Path, lowest_available: float | None = None
) -> WorkerEnd:
    """The end of a dead worker: ``returncode`` None when this process did not start it (the app restarted)."""
    if returncode == EXIT_DISK_FULL:
        error = disk_full_error(home)
        return WorkerEnd("failed", error.message, error.hint)
    oom = _oom_evidence(pid, lowest_available)
    if returncode is not None and returncode < 0:
        name = signal_name(-returncode)
        if oom:
            message = f"The training process was killed ({name}) by the out-of-memory killer: {oom}."
            hint = "Check the estimate next to Start, lower the batch size or max_seq_length, then resume. " + RESUME_HINT
        else:
            message = f"The training process was killed by {name} (by a person or another program; no sign of running out of memory)."
            hint = RESUME_HINT
        return WorkerEnd("interrupted", message + _disk_note(home), hint)
    if returncode is not None:
        last = _last_log_line(log_path)
        said = f" Its log ends with: {last}" if last else ""
        message = f"The training process exited (code {returncode}) without recording how the job ended.{said}"
        return WorkerEnd("failed", message + _disk_note(home), RESUME_HINT)
    message = "The training process is gone: it ended while no ModelForge app was watching it."
    if oom:
        message += f" The out-of-memory killer ended it: {oom}."
    return WorkerEnd("interrupted", message + _disk_note(home), RESUME_HINT)


def _oom_evidence(pid: int | None, lowest_available: float | None) -> str | None:
    record = kernel_oom_record(pid) if pid else None
    if record:
        return f"the kernel's log says '{record}'"
    if lowest_available is not None and lowest_available < LOW_MEMORY_FRACTION:
        return f"free memory had fallen to {lowest_available:.1%} of the RAM while it ran"
    return None


def _disk_note(home: Path) -> str:
    try:
        free = free_bytes(home)
    except OSError:
        return ""
    return f" The data folder's disk has only {size_in_words(free)} free, which may be why." if free < LOW_DISK_BYTES else ""


def _last_log_line(log_path: Path, tail_bytes: int = 4096) -> str | None:
    """The log's last non-empty line (a traceback's last line names the error)."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(max(0, log_path.stat().st_size - tail_bytes))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    return next((line.strip()[:300] for line in reversed(lines) if line.strip()), None)
