"""Experiment tracking: TensorBoard event files for every run; MLflow and W&B by name, offline, never blocking."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from modelforge_core.exceptions import ConfigurationError
from modelforge_core.schemas import TrainingConfig
from modelforge_core.training.events import EventLog
from modelforge_core.training.trackers import check_trackers, tensorboard_dir

from jobs_helpers import run_to_end

pytestmark = pytest.mark.timeout(600)


def _closed_port_url() -> str:
    """A local URL nothing listens on: a server that cannot be reached, answered at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in a TensorBoard log folder, read back with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    series: dict[str, list[tuple[int, float]]] = {}
    for events_file in sorted(folder.rglob("events.out.tfevents.*")):
        reader = EventAccumulator(str(events_file))
        reader.Reload()
        for tag in reader.Tags()["scalars"]:
            series.setdefault(tag, []).extend((event.step, event.value) for event in reader.Scalars(tag))
    return series


def test_a_run_logs_to_tensorboard_mlflow_and_offline_wandb(services, make_config, monkeypatch):
    training, _, _ = services
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(training.settings.home / "no-netrc"))  # no `wandb login` of this machine's user
    job = training.submit(make_config(trackers=["tensorboard", "mlflow", "wandb"], max_steps=12, eval_steps=6,
                                      logging_steps=3, tracking_project="tracked"))
    events = run_to_end(training, job["id"], timeout=500)
    job = training.get_job(job["id"])
    run_dir = Path(job["run_dir"])
    assert job["status"] == "completed", (job, (run_dir / "worker.log").read_text()[-3000:])
    messages = [e.get("message", "") for e in events if e.get("type") == "log"]
    assert not any("stopped logging" in m or "not logging" in m for m in messages), messages

    # TensorBoard: the train loss at each logged step and the eval loss of each evaluation, as the job's events say
    series = _scalars(tensorboard_dir(run_dir))
    train_steps = [e["step"] for e in events if e.get("type") == "train" and "loss" in e]
    eval_events = {e["step"]: e["eval_loss"] for e in events if e.get("type") == "eval" and "eval_loss" in e}
    assert [step for step, _ in series["train/loss"]] == train_steps
    assert {step: pytest.approx(value, rel=1e-5) for step, value in series["eval/loss"]} == eval_events
    assert [step for step, _ in series["eval/perplexity"]] == sorted(eval_events)

    # MLflow: the data folder's local store holds the run under the project's experiment, with its losses
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{training.settings.home / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tracked")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    logged = [m.step for m in client.get_metric_history(run.info.run_id, "eval_loss")]
    assert sorted(logged) == sorted(eval_events)

    # W&B: offline, in the run folder, said in the log
    assert any(m.startswith("W&B: offline (no W&B API key here") for m in messages), messages
    assert list((run_dir / "wandb").glob("offline-run-*/run-*.wandb"))


def test_trackers_that_cannot_reach_their_servers_log_locally_at_once(tmp_path, monkeypatch):
    from modelforge_core.training.tracking import tracker_callbacks

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "WANDB_MODE", "WANDB_DIR", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    down = _closed_port_url()
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", down)
    config = TrainingConfig(model_name="m", dataset="d.jsonl", trackers=["mlflow", "wandb"], tracking_uri=down)
    events = EventLog(tmp_path / "events.jsonl")
    callbacks = tracker_callbacks(config, tmp_path / "run", tmp_path / "home", events)
    assert [c.name for c in callbacks] == ["mlflow", "wandb"]
    import os

    assert os.environ["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path / 'home' / 'mlflow' / 'mlflow.db'}"
    assert os.environ["WANDB_MODE"] == "offline"
    messages = [e["message"] for e in events.read_from(0)[0]]
    assert any(m.startswith(f"MLflow: {down} cannot be reached; this run logs to the local store") for m in messages)
    assert any(m.startswith(f"W&B: offline ({down} cannot be reached)") for m in messages)


def test_a_tracker_that_fails_is_said_once_and_the_run_goes_on(tmp_path):
    from transformers import TrainerCallback

    from modelforge_core.training.tracking import GuardedTracker

    class Broken(TrainerCallback):
        calls = 0

        def on_log(self, args, state, control, **kwargs):
            Broken.calls += 1
            raise ConnectionError("server went away")

    events = EventLog(tmp_path / "events.jsonl")
    guarded = GuardedTracker("mlflow", Broken(), events)
    for _ in range(3):
        assert guarded.on_log(None, None, None, logs={"loss": 1.0}) is None
    assert Broken.calls == 1, "after its first error the tracker is left alone"
    (warning,) = [e for e in events.read_from(0)[0] if e.get("level") == "warning"]
    assert warning["message"] == "mlflow stopped logging this run (ConnectionError: server went away); training goes on."


def test_trackers_are_checked_before_the_job_is_queued(tmp_path, monkeypatch):
    from modelforge_core.training import trackers

    home = tmp_path / "home"
    with pytest.raises(ConfigurationError, match="outside the data folder") as info:
        check_trackers(TrainingConfig(model_name="m", dataset="d.jsonl", trackers=["mlflow"], tracking_uri="/elsewhere"), home)
    assert "MLflow server URL" in info.value.hint
    check_trackers(TrainingConfig(model_name="m", dataset="d.jsonl", trackers=["mlflow"], tracking_uri="mine"), home)
    monkeypatch.setattr(trackers, "is_package_available", lambda name: name != "wandb")
    with pytest.raises(ConfigurationError, match="The wandb tracker needs wandb, which is not installed") as info:
        check_trackers(TrainingConfig(model_name="m", dataset="d.jsonl", trackers=["tensorboard", "wandb"]), home)
    assert info.value.hint == "pip install wandb, or take wandb out of trackers."
    with pytest.raises(ValueError, match="trackers"):
        TrainingConfig(model_name="m", dataset="d.jsonl", trackers=["comet"])
    assert TrainingConfig(model_name="m", dataset="d.jsonl", trackers=["mlflow", "mlflow"]).trackers == ["mlflow"]


def test_the_task_metrics_and_perplexity_reach_the_trackers_with_each_evaluation(tmp_path):
    import math
    from types import SimpleNamespace

    from transformers import TrainerCallback

    from modelforge_core.training.tracking import GuardedTracker, eval_extras

    class Recorder(TrainerCallback):
        def __init__(self):
            self.logged = []

        def on_log(self, args, state, control, logs=None, **kwargs):
            self.logged.append(logs)

    task_metrics = SimpleNamespace(last={"step": 6, "rouge1": 0.31, "rougeL": 0.28})
    state = SimpleNamespace(global_step=6, log_history=[{"loss": 3.0, "step": 3}, {"eval_loss": 2.0, "step": 6}])
    recorder = Recorder()
    guarded = GuardedTracker("tensorboard", recorder, EventLog(tmp_path / "events.jsonl"),
                             extra_eval=lambda s: eval_extras(task_metrics, True, s))
    guarded.on_evaluate(None, state, None, metrics={"eval_loss": 2.0})
    assert recorder.logged == [{"eval_rouge1": 0.31, "eval_rougeL": 0.28, "eval_perplexity": pytest.approx(math.exp(2.0))}]
    # metrics of an earlier evaluation are not sent again; a strategy without a language-model loss sends no perplexity
    state.global_step = 9
    assert eval_extras(task_metrics, False, state) == {}
