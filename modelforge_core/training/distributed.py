"""Where this worker process stands among the processes of one job (as ``accelerate launch`` sets them).

Read from the launcher's environment (RANK, WORLD_SIZE, LOCAL_RANK), so it answers before torch's
process group exists. Only the main process (rank 0) writes events, the job row, the model folder
and the registry row; every process trains. ``agree_to_stop`` lets the processes decide together,
so that none leaves the training loop a step before the others (which would hang the rest).
"""

from __future__ import annotations

import os


def rank() -> int:
    """This process's rank among all processes of the job (0: the main process)."""
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """This process's rank among the job's processes on this machine."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def world_size() -> int:
    """How many processes train the job, on all machines."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return rank() == 0


def _process_group_ready() -> bool:
    if world_size() == 1:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def agree_to_stop(wanted: bool) -> bool:
    """True on every process when any process wants to stop (a one-number all-reduce each step)."""
    if not _process_group_ready():
        return wanted
    import torch
    import torch.distributed as dist

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    flag = torch.tensor([1 if wanted else 0], dtype=torch.int32, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def wait_for_everyone() -> None:
    """A barrier across the job's processes (nothing to wait for with one)."""
    if _process_group_ready():
        import torch.distributed as dist

        dist.barrier()
