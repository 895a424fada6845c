"""Run comparison: two or more models or jobs (finished or not) side by side.

Their curves (train loss, eval loss and every eval metric, by step) from the runs' own event logs, their
final metrics, and the config fields in which they differ. The Models tab, the HTTP API and
``models compare`` all show this one result.
"""

from __future__ import annotations

import json
from typing import Any

from ..exceptions import ConfigurationError, ModelForgeException, NotFoundError
from .model_service import ModelService
from .training_service import TrainingService

# Logged numbers that are bookkeeping, not a curve to compare.
NOT_CURVES = frozenset((
    "time", "step", "epoch", "num_tokens", "num_input_tokens_seen", "train_tokens_per_second", "eval_runtime",
    "eval_samples_per_second", "eval_steps_per_second", "eval_num_tokens", "total_flos", "train_runtime",
    "train_samples_per_second", "train_steps_per_second", "elapsed_s",
))
CURVE_EVENTS = ("train", "eval")
FIRST_CURVES = ("eval_loss", "loss")  # the curve a comparison opens on, the first one the runs have


def compare_runs(training: TrainingService, models: ModelService, refs: list[str]) -> dict:
    """The comparison of ``refs`` (model ids or names, or job ids), in the order given.

    ``runs``: one entry each (label, kind, status, final metrics, config); ``curves``: curve name ->
    run label -> [[step, value], ...] (a step logged again after a resume counts once, its last value);
    ``metrics``: the final metrics' names; ``differences``: the config fields whose values differ, with
    each run's value; ``default_curve``: the one to show first.
    """
    refs = list(dict.fromkeys(ref.strip() for ref in refs if ref and ref.strip()))
    if len(refs) < 2:
        raise ConfigurationError("A comparison needs two or more models or jobs.", "Pick at least two (by name, id or job id).")
    runs = [_run(training, models, ref) for ref in refs]
    _unique_labels(runs)
    curves: dict[str, dict[str, list[list[float]]]] = {}
    for run in runs:
        for name, points in run.pop("_curves").items():
            curves.setdefault(name, {})[run["label"]] = points
    metric_names = list(dict.fromkeys(name for run in runs for name in run["metrics"]))
    return {
        "runs": runs,
        "curves": curves,
        "default_curve": next((name for name in FIRST_CURVES if name in curves), next(iter(curves), None)),
        "metrics": metric_names,
        "differences": config_differences([run["config"] for run in runs]),
    }


def config_differences(configs: list[dict]) -> list[dict]:
    """[{"field", "values": one per config}] for every field whose values are not all the same (a field a
    config lacks counts as null)."""
    fields = list(dict.fromkeys(name for config in configs for name in config))
    found = []
    for name in fields:
        values = [config.get(name) for config in configs]
        if any(value != values[0] for value in values[1:]):
            found.append({"field": name, "values": values})
    return found


def _run(training: TrainingService, models: ModelService, ref: str) -> dict:
    """One run: a registered model (with its job's events where the job is known) or a job."""
    model, job = None, None
    try:
        model = models.get_model(ref)
    except NotFoundError:
        try:
            job = training.get_job(ref)
        except NotFoundError:
            raise NotFoundError(
                f"No model or job '{ref}'.",
                "Give a model's name or id (`models list`) or a job id (`jobs list`).",
            ) from None
        if job.get("model_id"):
            try:
                model = models.get_model(job["model_id"])
            except NotFoundError:  # the model was deleted since: the job alone
                model = None
    job_id = (model or {}).get("job_id") or (job or {}).get("id")
    if job is None and job_id:
        try:
            job = training.get_job(job_id)
        except NotFoundError:
            job = None  # a model registered from a folder whose job is gone: final metrics only
    events = _events(training, job["id"]) if job else []
    curves = curves_from_events(events)
    if model is not None:
        label, metrics, config = model["name"], dict(model.get("metrics") or {}), dict(model.get("config") or {})
    else:
        label, config = f"job {job['id']}", dict(job.get("config") or {})
        metrics = {name: points[-1][1] for name, points in curves.items() if points}
    return {
        "ref": ref,
        "kind": "model" if model is not None else "job",
        "label": label,
        "model_id": (model or {}).get("id"),
        "job_id": (job or {}).get("id"),
        "status": (job or {}).get("status") or "registered",
        "metrics": metrics,
        "config": config,
        "has_curves": bool(curves),
        "_curves": curves,
    }


def _events(training: TrainingService, job_id: str) -> list[dict]:
    try:
        return training.events(job_id)
    except (ModelForgeException, OSError):  # a run folder removed, or on another machine
        return []


def curves_from_events(events: list[dict]) -> dict[str, list[list[float]]]:
    """curve name -> [[step, value], ...] by step from train and eval events; a step logged again (after a
    resume or an out-of-memory retry) keeps its last value."""
    by_name: dict[str, dict[int, float]] = {}
    for event in events:
        if event.get("type") not in CURVE_EVENTS or not isinstance(event.get("step"), int):
            continue
        for name, value in event.items():
            if name in NOT_CURVES or name == "type" or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            by_name.setdefault(name, {})[event["step"]] = float(value)
    return {name: [[step, values[step]] for step in sorted(values)] for name, values in by_name.items()}


def _unique_labels(runs: list[dict]) -> None:
    """Two runs with one name (a model and its own job, two jobs of one name) get their ids added."""
    seen: dict[str, int] = {}
    for run in runs:
        seen[run["label"]] = seen.get(run["label"], 0) + 1
    for run in runs:
        if seen[run["label"]] > 1:
            run["label"] = f"{run['label']} ({run['model_id'] or run['job_id']})"


def comparison_table(result: dict) -> list[dict[str, Any]]:
    """The final metrics as rows: {"metric", <run label>: value, ...}."""
    return [{"metric": name, **{run["label"]: run["metrics"].get(name) for run in result["runs"]}} for name in result["metrics"]]


def differences_table(result: dict) -> list[dict[str, str]]:
    """The config differences as rows: {"field", <run label>: the value as text, ...}."""
    labels = [run["label"] for run in result["runs"]]
    return [{"field": d["field"], **{label: cell_text(value) for label, value in zip(labels, d["values"])}}
            for d in result["differences"]]


def cell_text(value: Any) -> str:
    """A config value in a table cell: text as it is, anything else as JSON, nothing for null."""
    return "" if value is None else value if isinstance(value, str) else json.dumps(value)
