"""The run's own time estimate, said at its start, and its measured times recorded at its end.

The estimate is made from the rows the run really trains on; the record teaches the next estimate this
machine's speed (``hardware.run_timing``). Neither may fail a run: a problem is logged and skipped.
"""

from __future__ import annotations

from typing import Any

from ..hardware.time_estimate import duration_words
from ..logging_config import get_logger
from ..settings import Settings
from .events import EventLog

log = get_logger("timing")


def training_device() -> str:
    """cuda, mps or cpu: where this worker trains (as the Hardware tab reads it)."""
    from ..hardware.detection import device_of, torch_accelerators

    return device_of(torch_accelerators())


def process_seconds() -> float:
    """Seconds since this worker process started: its imports count, as they do for the user."""
    import time

    import psutil

    return time.time() - psutil.Process().create_time()


def estimate_at_start(config: Any, model_class: Any, train_rows: Any, eval_rows: Any, tokenizer: Any, strategy: Any,
                      events: EventLog) -> tuple[Any, dict] | None:
    """(the run's work, its estimate), said in the log and as a ``time_estimate`` event; None if it cannot say."""
    from ..hardware.model_shape import model_shape
    from ..hardware.run_timing import RunTiming, compute_dtype, work_for_config
    from ..providers.model_source import read_model_config

    try:
        model_config = read_model_config(config.model_name)
        shape = model_shape(model_config, model_class)
        work = work_for_config(config, shape, train_rows, eval_rows, tokenizer, strategy)
        device = training_device()
        estimate = RunTiming(Settings.from_env().home).estimate(work, device, compute_dtype(model_config, config, device))
    except Exception as exc:  # the estimate is advice: the run goes on without it
        log.warning("no time estimate", extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})
        return None
    events.write("time_estimate", **{k: v for k, v in estimate.items() if k != "work"})
    events.log(f"Time estimate on this machine: {duration_words(estimate['total_s'])} in all "
               f"({duration_words(estimate['per_step_s'])} per step x {estimate['steps']} steps, "
               f"evaluation {duration_words(estimate['eval_s'])}), from {estimate['basis']}.")
    return work, estimate


def record_finished(started: tuple[Any, dict] | None, config: Any, trainer: Any, train_output: Any, total_s: float,
                    events: EventLog, task_metric_s: float = 0.0) -> None:
    """Append the finished run's measured times to this machine's record, and say how far the estimate was."""
    from ..hardware.run_timing import RunTiming, measured_record

    if started is None:
        return
    work, estimate = started
    try:
        eval_runtimes = [float(entry["eval_runtime"]) for entry in trainer.state.log_history if "eval_runtime" in entry]
        record = measured_record(training_device(), estimate["dtype"], config, work, estimate, eval_runtimes, total_s,
                                 float(train_output.metrics.get("train_runtime") or 0.0), task_metric_s)
        RunTiming(Settings.from_env().home).add(record)
    except Exception as exc:
        log.warning("run time not recorded", extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})
        return
    off = (estimate["total_s"] - total_s) / total_s * 100 if total_s else 0.0
    events.log(f"Took {duration_words(total_s)}; the estimate was {duration_words(estimate['total_s'])} ({off:+.0f}%).")
