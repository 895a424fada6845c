"""``models rescan``: the model registry rebuilt from the model folders, so that a lost database loses no model.

Training saves each model in ``MODELFORGE_HOME/models/<job_id>/`` with a ``modelforge.json`` (name,
base_model, task, strategy, provider, config, metrics). A folder whose path is registered already is
left alone; any other is registered under its name (a taken name gets ``-2``, as
:meth:`ModelService.register_model` does), with the folder's name as its job id (none for a name
longer than a job id can be: a folder named by hand). A folder that cannot be registered is listed
with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..database.models import ModelRecord
from ..exceptions import ConfigurationError, ModelAccessError
from ..model_card import METADATA_FILE, read_model_metadata
from ..settings import Settings
from .model_service import ModelService

REQUIRED_FIELDS = ("name", "base_model", "task", "strategy", "provider")
JOB_ID_LENGTH = ModelRecord.__table__.c.job_id.type.length
UNFINISHED_SUFFIX = ".partial"  # a save still being written, or cut short (training renames it when complete)


@dataclass
class RescanReport:
    """What a rescan of ``models_dir`` did: rows added, rows already there, folders skipped with the reason."""

    models_dir: str
    added: list[dict] = field(default_factory=list)
    kept: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"folder": ..., "reason": ...}

    def to_dict(self) -> dict:
        return {"models_dir": self.models_dir, "added": self.added, "kept": self.kept, "skipped": self.skipped}

    def summary_lines(self) -> list[str]:
        """The report in words: the counts, then the names."""
        lines = [
            f"Rescanned {self.models_dir}: {len(self.added)} added, {len(self.kept)} already registered, "
            f"{len(self.skipped)} skipped."
        ]
        lines += [f"  added: {model['name']} (from {Path(model['path']).name})" for model in self.added]
        lines += [f"  already registered: {model['name']}" for model in self.kept]
        lines += [f"  skipped {item['folder']}: {item['reason']}" for item in self.skipped]
        return lines


def _metadata(folder: Path) -> dict:
    """The folder's modelforge.json, checked for what a registry row needs; ModelAccessError saying what is wrong."""
    if folder.name.endswith(UNFINISHED_SUFFIX):
        raise ModelAccessError("an unfinished save (the training process stopped while writing it).")
    metadata = read_model_metadata(folder)
    missing = [key for key in REQUIRED_FIELDS if not isinstance(metadata.get(key), str) or not metadata[key].strip()]
    if missing:
        raise ModelAccessError(f"{folder / METADATA_FILE} has no {', '.join(missing)}.")
    for key in ("config", "metrics"):
        if not isinstance(metadata.get(key, {}), dict):
            raise ModelAccessError(f"{folder / METADATA_FILE}: '{key}' is not a JSON object.")
    return metadata


def _model_folders(models_dir: Path) -> list[Path]:
    """The folders in ``models_dir`` by name, hidden ones left out."""
    if not models_dir.is_dir():
        return []
    return sorted(path for path in models_dir.iterdir() if path.is_dir() and not path.name.startswith("."))


def rescan_models(models: ModelService, settings: Settings) -> RescanReport:
    """Register every model folder under ``settings.models_dir`` that the registry lacks; returns the report.

    A database that cannot be written raises DatabaseError (nothing is skipped for that reason).
    """
    report = RescanReport(str(settings.models_dir))
    registered = {Path(model["path"]).resolve(): model for model in models.list_models()}
    for folder in _model_folders(settings.models_dir):
        if folder.resolve() in registered:
            report.kept.append(registered[folder.resolve()])
            continue
        try:
            metadata = _metadata(folder)
            model = models.register_model(
                name=metadata["name"], base_model=metadata["base_model"], task=metadata["task"],
                strategy=metadata["strategy"], provider=metadata["provider"], path=folder,
                config=metadata.get("config") or {}, metrics=metadata.get("metrics") or {},
                job_id=folder.name if len(folder.name) <= JOB_ID_LENGTH else None,
            )
        except (ModelAccessError, ConfigurationError) as exc:
            report.skipped.append({"folder": str(folder), "reason": exc.message})
            continue
        registered[folder.resolve()] = model
        report.added.append(model)
    return report
