"""``TaskMetricsCallback``: after each evaluation, the task's metrics (ROUGE, EM/F1) as an eval event.

The first evaluation (step 0) measures the base model, so every run carries its own comparison.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback

from .events import EventLog


class TaskMetricsCallback(TrainerCallback):
    """Runs ``evaluate(model) -> {name: value}`` on each evaluation and records the result."""

    def __init__(self, events: EventLog, evaluate: Callable[[Any], dict]):
        self.events = events
        self.evaluate = evaluate
        self.first: dict | None = None
        self.last: dict | None = None
        self.seconds = 0.0  # spent computing the metrics, in all (the run's time record counts it as evaluation)

    def on_evaluate(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        was_training = model.training
        model.eval()
        started = time.perf_counter()
        try:
            metrics = self.evaluate(model)
        finally:
            model.train(was_training)
            self.seconds += time.perf_counter() - started
        record = {"step": state.global_step, **metrics}
        self.first = self.first or record
        self.last = record
        self.events.write("eval", step=state.global_step, epoch=state.epoch, **{f"eval_{k}": v for k, v in metrics.items()})

    def final_metrics(self) -> dict:
        """The last values, and the step-0 (base model) values as ``initial_<name>``."""
        if not self.last:
            return {}
        metrics = {k: v for k, v in self.last.items() if k != "step"}
        if self.first and self.first.get("step") == 0:
            metrics.update({f"initial_{k}": v for k, v in self.first.items() if k != "step"})
        return metrics
