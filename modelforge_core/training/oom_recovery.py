"""Automatic recovery from out-of-memory: the run goes on from its last checkpoint with lighter settings.

Each try moves one rung down: half the per-device batch with twice the gradient accumulation (the same
effective batch), then gradient checkpointing, then (only where the config allows it) half the max
length; at most ``MAX_TRIES`` tries. Like accelerate's ``find_executable_batch_size``, it retries in the
same process after freeing what the failed try held. A job on several processes is not retried (one
process running out would have to take the others with it).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..hardware.oom import is_out_of_memory, what_ran_out
from ..schemas import TrainingConfig
from .events import EventLog

MAX_TRIES = 3
SHORTEST_LENGTH = 64  # below this a shorter max length would cut most rows
INJECT_OOM_ENV = "MODELFORGE_INJECT_OOM_AT_STEP"  # a test hook: the first try runs out of memory at that step


@dataclass(frozen=True)
class Rung:
    """One step down: the config fields it changes, and what it does in words."""

    update: dict
    words: str


def next_rung(config: TrainingConfig) -> Rung | None:
    """The lighter settings to try after running out of memory with ``config``; None when there are none left."""
    batch, accumulation = config.per_device_train_batch_size, config.gradient_accumulation_steps
    if batch > 1:
        smaller = max(size for size in range(1, batch // 2 + 1) if batch % size == 0)  # keeps the effective batch whole
        more = accumulation * batch // smaller
        return Rung(
            {"per_device_train_batch_size": smaller, "gradient_accumulation_steps": more},
            f"batch size {batch} -> {smaller} and gradient accumulation {accumulation} -> {more} "
            f"(the same effective batch of {batch * accumulation})",
        )
    if not config.gradient_checkpointing:
        return Rung({"gradient_checkpointing": True}, "gradient checkpointing on (activations recomputed, not kept)")
    if config.oom_shorter_length and config.max_seq_length // 2 >= SHORTEST_LENGTH:
        shorter = config.max_seq_length // 2
        return Rung({"max_seq_length": shorter}, f"max length {config.max_seq_length} -> {shorter} tokens (longer rows are cut)")
    return None


def train_with_recovery(
    config: TrainingConfig,
    train: Callable[[TrainingConfig, bool, list[dict]], Any],
    events: EventLog,
    *,
    resume: bool,
    has_checkpoint: Callable[[], str | None],
    on_new_config: Callable[[TrainingConfig], None],
    processes: int = 1,
) -> tuple[Any, TrainingConfig, list[dict]]:
    """``train(config, resume, tries so far)`` until it completes, is stopped, fails otherwise or the tries run out.

    Returns (its result, the config that worked, the tries: step, what ran out, the change). After an
    out-of-memory error, ``on_new_config`` records the lighter config (the run folder, the job row) before
    the next try, which resumes from ``has_checkpoint()`` where there is one.
    """
    tries: list[dict] = []
    while True:
        failure = None
        try:
            return train(config, resume, list(tries)), config, tries
        except Exception as exc:
            rung = next_rung(config) if recoverable(config, exc, len(tries), processes) else None
            if rung is None:
                if tries and is_out_of_memory(exc):
                    events.log(f"Out of memory again after {len(tries)} tr{'y' if len(tries) == 1 else 'ies'}: "
                               "no lighter setting left to try.", level="warning")
                raise
            failure = {"what": what_ran_out(exc), "change": rung.words}
        # outside the except block: the traceback, and the model and trainer its frames hold, are gone
        free_memory()
        # the GPU fill stays off: it would take back the smaller micro-batch
        config = TrainingConfig.model_validate({**config.to_json_dict(), **rung.update, "fill_gpu": False})
        on_new_config(config)
        checkpoint = has_checkpoint()
        tries.append(failure)
        events.log(
            f"Out of memory ({failure['what']} ran out). Try {len(tries)} of {MAX_TRIES}: {rung.words}, "
            f"going on from {checkpoint or 'the start'}.", level="warning",
        )
        events.write("recovery", attempt=len(tries), change=rung.words, update=rung.update, checkpoint=checkpoint)
        resume = checkpoint is not None


def recoverable(config: TrainingConfig, exc: BaseException, tries: int, processes: int) -> bool:
    return config.oom_recovery and processes == 1 and tries < MAX_TRIES and is_out_of_memory(exc)


def free_memory() -> None:
    """What a failed try left: Python's garbage, then the GPU's cached blocks."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def injected_oom_step() -> int | None:
    """The step at which the test hook makes the first try run out of memory, if it is set."""
    value = os.environ.get(INJECT_OOM_ENV, "").strip()
    return int(value) if value.isdigit() else None


def oom_injection_callback(step: int, marker: os.PathLike) -> Any:
    """A callback that raises torch's OutOfMemoryError at ``step``, once per run (``marker`` remembers it)."""
    from pathlib import Path

    import torch
    from transformers import TrainerCallback

    marker = Path(marker)

    class InjectOutOfMemory(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == step and not marker.exists():
                marker.touch()
                raise torch.OutOfMemoryError(
                    f"CUDA out of memory. Tried to allocate 2.00 GiB (injected at step {step} by {INJECT_OOM_ENV})."
                )

    return InjectOutOfMemory()
