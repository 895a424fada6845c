"""Rerun: queue a registered model's run again, exactly, from its folder's ``reproduce.json``.

The data is checked first: a dataset whose content hash changed since is said before anything starts
(and queued only when the caller allows it); different package versions are said too.
"""

from __future__ import annotations

from pathlib import Path

from ..exceptions import ConfigurationError, NotFoundError
from ..packages import package_version
from ..training.reproduce import dataset_fingerprint, read_reproduce_record
from .model_service import ModelService
from .training_service import TrainingService

CHANGED_DATA_HINT = ("Rerun anyway with --yes (in the Models tab: tick 'even though the data changed'), "
                     "or put the data back as it was.")


def model_for(training: TrainingService, models: ModelService, ref: str) -> dict:
    """The registered model named by its name, its id, or the id of the job that trained it."""
    try:
        return models.get_model(ref)
    except NotFoundError:
        try:
            model_id = training.get_job(ref).get("model_id")
        except NotFoundError:
            model_id = None
        if not model_id:
            raise NotFoundError(f"No model '{ref}' (by name, id or the id of the job that trained it).",
                                "List the models with `python -m modelforge_core models list`.") from None
        return models.get_model(model_id)


def rerun_model(training: TrainingService, models: ModelService, ref: str, allow_changed_data: bool = False) -> dict:
    """Queue the model's run again; {"job", "model", "notes": what differs from the first run}.

    ConfigurationError (nothing queued) when the dataset is gone, or changed and ``allow_changed_data`` is off.
    """
    model = model_for(training, models, ref)
    record = read_reproduce_record(Path(model["path"]))
    notes = []
    if record is None:
        config = dict(model.get("config") or {})
        notes.append("This model has no reproduce.json (it was saved before ModelForge kept one): rerun from its "
                     "registered config, without checking the data.")
    else:
        config = dict(record["config"])
        notes += _data_notes(model["name"], record.get("dataset") or {}, allow_changed_data)
        notes += _package_notes(record.get("packages") or {})
    if not config:
        raise ConfigurationError(f"Model {model['name']} has no recorded config to rerun.", "Train it again from a config.")
    config["output_name"] = f"{model['name']}-rerun"
    job = training.submit_when_ready(config)
    return {"job": job, "model": model, "notes": notes}


def _data_notes(name: str, recorded: dict, allow_changed_data: bool) -> list[str]:
    if not recorded.get("sha256"):
        return [f"The dataset {recorded.get('hub_id', '')} is a Hub dataset: its content is not checked."]
    path = recorded["path"]
    if not Path(path).exists():
        raise ConfigurationError(f"The dataset {path} that trained {name} is gone.", "Put it back where it was, then rerun.")
    now = dataset_fingerprint(path)
    if now["sha256"] == recorded["sha256"]:
        return []
    words = (f"The dataset {path} changed since {name} was trained (sha256 {recorded['sha256'][:12]}... then, "
             f"{now['sha256'][:12]}... now, {now['bytes']:,} bytes against {recorded['bytes']:,})")
    if not allow_changed_data:
        raise ConfigurationError(f"{words}: the rerun would not repeat the run.", CHANGED_DATA_HINT)
    return [f"{words}: rerun on the data as it is now."]


def _package_notes(recorded: dict) -> list[str]:
    changed = [f"{name} {version} then, {package_version(name) or 'not installed'} now"
               for name, version in recorded.items() if name != "modelforge" and package_version(name) != version]
    return [f"Package versions differ ({'; '.join(changed)}): the numbers may differ slightly."] if changed else []
