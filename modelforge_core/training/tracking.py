"""The trackers' callbacks: TensorBoard for every run; MLflow, W&B and trackio when the config names them.

Each is transformers' own integration callback, pointed at local storage when it cannot reach a
server (the run's folder, the data folder's MLflow store, W&B's offline mode) and wrapped so that a
tracker that fails says so once in the job's log and the run goes on without it. A tracker's
package is imported only when a config asks for it. The main process alone logs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ..evaluation.metrics import perplexity as language_model_perplexity
from .events import EventLog
from .trackers import (
    default_mlflow_folder,
    has_wandb_key,
    is_server,
    local_mlflow_folder,
    mlflow_store,
    project_name,
    reachable,
    tensorboard_dir,
)


def tracker_callbacks(config: Any, run_root: Path, home: Path, events: EventLog,
                      extra_eval: Callable[[Any], dict] | None = None) -> list[TrainerCallback]:
    """The trackers' callbacks for this run, each set up and guarded.

    ``extra_eval(state)``: metrics computed after an evaluation (ROUGE, F1, perplexity) that the trainer's
    own log lacks; each tracker gets them as eval metrics at the same step.
    """
    callbacks = []
    for name in config.trackers:
        try:
            callback = _SETUP[name](config, Path(run_root), Path(home), events)
        except Exception as exc:  # a tracker that cannot start never stops the run
            events.log(f"{name}: not logging this run ({type(exc).__name__}: {exc}).", level="warning")
            continue
        callbacks.append(GuardedTracker(name, callback, events, extra_eval))
    return callbacks


def _tensorboard(config: Any, run_root: Path, home: Path, events: EventLog) -> TrainerCallback:
    from transformers.integrations import TensorBoardCallback

    os.environ["TENSORBOARD_LOGGING_DIR"] = str(tensorboard_dir(run_root))
    return TensorBoardCallback()


def _mlflow(config: Any, run_root: Path, home: Path, events: EventLog) -> TrainerCallback:
    from transformers.integrations import MLflowCallback

    uri = config.tracking_uri
    if uri and is_server(uri) and not reachable(uri):
        local = mlflow_store(default_mlflow_folder(home))
        events.log(f"MLflow: {uri} cannot be reached; this run logs to the local store {local} instead.", level="warning")
        uri = local
    elif not uri or not is_server(uri):
        uri = mlflow_store(local_mlflow_folder(uri, home) if uri else default_mlflow_folder(home))
    os.environ.update(
        MLFLOW_TRACKING_URI=uri, MLFLOW_EXPERIMENT_NAME=project_name(config),
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="2", MLFLOW_HTTP_REQUEST_TIMEOUT="10",
    )
    events.log(f"MLflow: logging to {uri}, experiment {project_name(config)}.")
    return MLflowCallback()


def _wandb(config: Any, run_root: Path, home: Path, events: EventLog) -> TrainerCallback:
    from transformers.integrations import WandbCallback

    server = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    reason = None
    if os.environ.get("WANDB_MODE", "online") in ("offline", "disabled", "dryrun"):
        reason = f"WANDB_MODE is {os.environ['WANDB_MODE']}"
    elif not has_wandb_key(server):
        reason = "no W&B API key here (WANDB_API_KEY or `wandb login`)"
    elif not reachable(server):
        reason = f"{server} cannot be reached"
    os.environ.update(WANDB_DIR=str(run_root), WANDB_PROJECT=project_name(config), WANDB_SILENT="true",
                      WANDB_INIT_TIMEOUT="60", WANDB_MODE="offline" if reason else "online")
    if reason:
        events.log(f"W&B: offline ({reason}); the run is kept in {run_root / 'wandb'} (`wandb sync` uploads it later).")
    else:
        events.log(f"W&B: logging to project {project_name(config)} at {server}.")
    return WandbCallback()


def _trackio(config: Any, run_root: Path, home: Path, events: EventLog) -> TrainerCallback:
    os.environ.setdefault("TRACKIO_DIR", str(Path(home) / "trackio"))  # read when trackio is imported
    from transformers.integrations import TrackioCallback

    events.log(f"trackio: logging to {os.environ['TRACKIO_DIR']}, project {project_name(config)} "
               f"(`trackio show --project {project_name(config)}`, with TRACKIO_DIR set, shows it).")
    return TrackioCallback()


_SETUP = {"tensorboard": _tensorboard, "mlflow": _mlflow, "wandb": _wandb, "trackio": _trackio}


class GuardedTracker(TrainerCallback):
    """One tracker's callback: its first error is said in the job's log, and it logs no more; the run goes on."""

    def __init__(self, name: str, callback: TrainerCallback, events: EventLog,
                 extra_eval: Callable[[Any], dict] | None = None):
        self.name, self.callback, self.events, self.extra_eval = name, callback, events, extra_eval
        self.failed = False

    def _call(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if self.failed:
            return None
        try:
            return getattr(self.callback, event)(*args, **kwargs)
        except Exception as exc:
            self.failed = True
            self.events.log(f"{self.name} stopped logging this run ({type(exc).__name__}: {exc}); training goes on.",
                            level="warning")
            return None

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        result = self._call("on_evaluate", args, state, control, **kwargs)
        extra = self.extra_eval(state) if self.extra_eval else {}
        if extra:
            self._call("on_log", args, state, control, logs={f"eval_{k}": v for k, v in extra.items()})
        return result


def _forward(event: str) -> Callable:
    def method(self: GuardedTracker, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        return self._call(event, args, state, control, **kwargs)

    method.__name__ = event
    return method


for _event in [name for name in vars(TrainerCallback) if name.startswith("on_") and name != "on_evaluate"]:
    setattr(GuardedTracker, _event, _forward(_event))


def eval_extras(task_metrics: Any, perplexity: bool, trainer_state: Any) -> dict:
    """The metrics of the evaluation just done that the trainer's log lacks: the task's, and perplexity."""
    extra = {}
    last = getattr(task_metrics, "last", None)
    if last and last.get("step") == trainer_state.global_step:
        extra.update({k: v for k, v in last.items() if k != "step" and isinstance(v, int | float)})
    if perplexity:
        losses = [entry["eval_loss"] for entry in trainer_state.log_history if "eval_loss" in entry]
        value = language_model_perplexity(losses[-1]) if losses else None
        if value is not None:
            extra["perplexity"] = value
    return extra
