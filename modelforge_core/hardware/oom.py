"""Out-of-memory errors from training, turned into what ran out and what would help."""

from __future__ import annotations

import os
import re

from ..exceptions import HardwareError

_CPU_MARKERS = ("DefaultCPUAllocator", "can't allocate memory", "Cannot allocate memory")
_GPU_MARKERS = ("CUDA out of memory", "OutOfMemoryError", "MPS backend out of memory", "out of memory")
GENERIC_HINT = "Lower the batch size or max_seq_length, turn on gradient checkpointing, or use 4-bit (qlora)."


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's OutOfMemoryError and for allocation failures on the CPU or a GPU."""
    text = f"{type(exc).__name__}: {exc}"
    return any(marker in text for marker in (*_CPU_MARKERS, *_GPU_MARKERS))


def what_ran_out(exc: BaseException) -> str:
    """'RAM', 'GPU 0 memory' or 'GPU memory', with the sizes torch reported where it did."""
    text = str(exc)
    if any(marker in text for marker in _CPU_MARKERS):
        wanted = re.search(r"allocate (\d+) bytes", text)
        size = f" (it asked for {int(wanted.group(1)) / 1024**3:.2f} GB more)" if wanted else ""
        return f"RAM{size}"
    if "MPS" in text:
        return "Apple GPU (MPS) memory"
    gpu = re.search(r"GPU (\d+) has a total capacity of ([\d.]+ \w+) of which ([\d.]+ \w+) is free", text)
    wanted = re.search(r"Tried to allocate ([\d.]+ \w+)", text)
    if gpu:
        more = f", needing {wanted.group(1)} more" if wanted else ""
        return f"GPU {gpu.group(1)} memory ({gpu.group(2)} in all, {gpu.group(3)} free{more})"
    return "GPU memory"


def out_of_memory_error(exc: BaseException, suggestions: list[dict] | None = None) -> HardwareError:
    """A HardwareError naming what ran out and the changes that would make the run fit."""
    fitting = [s for s in (suggestions or []) if s.get("verdict") == "fits"]
    if fitting:
        hint = "Changes that would make it fit (by the memory estimate): " + "; ".join(
            f"{s['change']} (about {s['peak_gb']} GB)" for s in fitting[:4]
        ) + "."
    else:
        hint = GENERIC_HINT
    return HardwareError(f"Out of memory during training: the {what_ran_out(exc)} ran out.", hint)


def kernel_oom_record(pid: int, kmsg: str = "/dev/kmsg", max_records: int = 200_000) -> str | None:
    """The kernel log's line saying the out-of-memory killer killed ``pid``; None when absent or unreadable."""
    pattern = re.compile(rf"(Killed process {pid}\b|oom-kill:.*\bpid={pid}\b|Out of memory: Kill(ed)? process {pid}\b)")
    try:
        fd = os.open(kmsg, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    found = None
    try:
        for _ in range(max_records):
            try:
                record = os.read(fd, 8192).decode("utf-8", "replace")
            except BlockingIOError:  # the end of the buffer
                break
            except BrokenPipeError:  # records were overwritten while reading: go on with the next
                continue
            except OSError:
                break
            if not record:
                break
            if pattern.search(record):
                found = record.split(";", 1)[-1].strip()
    finally:
        os.close(fd)
    return found
