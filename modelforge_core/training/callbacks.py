"""``EventCallback``: turns trainer hooks into events, and a stop request into a clean stop.

A stop request (the run's STOP file) sets ``should_save`` and ``should_training_stop`` at the next
step end, so the trainer writes a checkpoint and leaves its loop: what it learned is kept. With several
processes, they agree on the step (``agree_to_stop``), so that all leave the loop together. A loss or
gradient norm that is no longer a finite number stops the run at once, without a checkpoint (the
weights are already ruined): ``diverged`` says where, and the pipeline fails the job with it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..evaluation.metrics import perplexity
from .distributed import agree_to_stop
from .events import EventLog
from .job_clock import JobClock, StepRate

PROGRESS_INTERVAL_S = 0.25
SUMMARY_KEYS = {"epoch", "step", "total_flos", "train_runtime", "train_samples_per_second", "train_steps_per_second"}
DIVERGENCE_KEYS = ("loss", "grad_norm", "eval_loss")


def _not_finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not math.isfinite(value)


class EventCallback(TrainerCallback):
    """Writes progress/train/eval events; ``on_progress(step, total)`` lets the worker update the job row.

    ``perplexity`` adds exp(eval loss) to eval events, for strategies whose loss is a language-model loss.
    """

    def __init__(
        self,
        events: EventLog,
        stop_file: Path,
        on_progress: Callable[[int, int], None] | None = None,
        perplexity: bool = True,
        clock: JobClock | None = None,
    ):
        self.events = events
        self.perplexity = perplexity
        self.stage: str | None = None  # set by multi-stage trainers (RLHF); added to every event
        self.stop_file = Path(stop_file)
        self.on_progress = on_progress
        self.stop_requested = False
        self.diverged: dict | None = None  # {"step", "key", "value"} of the first non-finite loss or gradient norm
        self.first_eval: dict | None = None
        self.last_eval: dict | None = None
        self.clock = clock or JobClock()
        self.rate = StepRate()
        self._start = time.monotonic()
        self._start_step = 0
        self._start_tokens = 0
        self._last_emit = 0.0
        self._first_step_done = False

    def phase(self, phase: str, message: str) -> dict:
        """A ``phase`` event: what the run is doing before and between the steps, with the job's elapsed time."""
        return self._write("phase", phase=phase, message=message, elapsed_s=self.clock.elapsed())

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._start = time.monotonic()
        self._start_step = state.global_step
        self._start_tokens = state.num_input_tokens_seen or 0
        self._first_step_done = False
        self.rate.restart()
        self.rate.add(state.global_step)
        self._write("status", status="running", message="Training started", total_steps=state.max_steps)
        if getattr(args, "eval_on_start", False) and state.global_step == 0:
            self.phase("evaluating", "Evaluating the base model on the eval split (step 0)")
        else:
            self.phase("first_step", f"Running the first step (of {state.max_steps})")
        self._progress(state, force=True)
        self._check_stop(state, control)

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self._first_step_done and state.global_step == self._start_step:
            self.phase("first_step", f"Running the first step (of {state.max_steps})")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.rate.add(state.global_step)
        if not self._first_step_done:
            self._first_step_done = True
            self.phase("training", "Training")
        self._progress(state, force=state.global_step >= state.max_steps or state.global_step == self._start_step + 1)
        self._check_stop(state, control)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.stop_requested:
            control.should_evaluate = False  # a stop mid-epoch ends the epoch: no evaluation on the way out

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
        logs = dict(logs or {})
        self._check_divergence(logs, state, control)
        if any(key.startswith("eval_") for key in logs):
            metrics = {k.removeprefix("eval_"): v for k, v in logs.items() if k.startswith("eval_")}
            if self.perplexity:  # a language-model loss; DPO's or a reward model's loss is not one
                metrics["perplexity"] = perplexity(metrics.get("loss"))
            event = {"step": state.global_step, "epoch": state.epoch, **{f"eval_{k}": v for k, v in metrics.items()}}
            self.first_eval = self.first_eval or event
            self.last_eval = event
            self._write("eval", **event)
        elif "loss" in logs:
            # loss, learning_rate, grad_norm, and what each trainer adds (DPO's rewards/*, GRPO's reward, kl, ...)
            numbers = {k: v for k, v in logs.items() if isinstance(v, (int, float)) and k not in SUMMARY_KEYS}
            self._write("train", step=state.global_step, epoch=state.epoch, **numbers)

    def _check_divergence(self, logs: dict, state: Any, control: Any) -> None:
        bad = next((key for key in DIVERGENCE_KEYS if _not_finite(logs.get(key))), None)
        if bad is None or self.diverged is not None:
            return
        self.diverged = {"step": state.global_step, "key": bad, "value": logs[bad]}
        self.events.log(f"{bad} became {logs[bad]} at step {state.global_step}: stopping the run.", level="error")
        control.should_training_stop = True
        control.should_save = False
        control.should_evaluate = False

    def _write(self, type_: str, **fields: Any) -> dict:
        if self.stage:
            fields["stage"] = self.stage
        return self.events.write(type_, **fields)

    def _check_stop(self, state: Any, control: Any) -> None:
        """The STOP file, seen by any process of the job, stops all of them at this same step."""
        if not self.stop_requested and agree_to_stop(self.stop_file.exists()):
            self.stop_requested = True
            self.events.log(f"Stop requested: saving a checkpoint at step {state.global_step} and stopping.")
        if self.stop_requested and self.diverged is None:
            control.should_save = True
            control.should_training_stop = True
            control.should_evaluate = False  # stop means now: an evaluation (minutes with generation) waits for no one

    def _progress(self, state: Any, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_emit < PROGRESS_INTERVAL_S:
            return
        self._last_emit = now
        run_time = now - self._start
        total = state.max_steps or 0
        tokens = (state.num_input_tokens_seen or 0) - self._start_tokens
        self._write(
            "progress",
            step=state.global_step,
            total_steps=total,
            epoch=state.epoch,
            elapsed_s=self.clock.elapsed(),
            eta_s=self.rate.seconds_left(state.global_step, total),
            tokens_per_s=round(tokens / run_time, 1) if run_time > 0 and tokens else None,
        )
        if self.on_progress:
            self.on_progress(state.global_step, total)
