"""``ExportService``: a fine-tuned model out of the registry: merged weights, the adapter folder, GGUF
(with an Ollama Modelfile), an adapter zip, the Hub.

Every export is written to a staging folder, renamed when complete, and checked by its parity report
(``export/``), kept in the export folder and in the model folder's exports.json. Exports go where the
``PathPolicy`` allows (a shared app: only under the data folder's ``exports/``). An adapter zip holds plain relative entries under a safe stem of the model's name. A
Hub push takes the token for that call only: it is never written to the database, a log or the
model folder; offline it fails at once.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from ..disk import MB, disk_full_error, free_bytes, is_disk_full, size_in_words
from ..exceptions import ConfigurationError, ModelAccessError
from ..export.checked import ExportResult, Progress
from ..export.formats import EXPORT_FORMATS, GGUF_TYPES
from ..model_card import METADATA_FILE, card_fields, read_model_metadata, render_model_card
from ..names import name_from
from ..settings import is_offline
from .model_loading import load_registered_model
from .model_service import ModelService
from .path_access import PathPolicy

EXPORT_MARGIN_BYTES = 20 * MB  # the tokenizer, the config, the file system's own room


def safe_stem(name: str) -> str:
    """A file or folder name made from a model's name: no separators, no ``..``, never empty (the names rule's)."""
    return name_from(name)


EXPORTS_FILE = "exports.json"  # in the model's folder: every export with its parity report
# Bytes per weight in the file, per GGUF type (a Q8_0 block: 32 values in 34 bytes; Q4_0: 32 in 18).
GGUF_BYTES_PER_WEIGHT = {"f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}


class ExportService:
    """Exports registered models, each checked by its parity report."""

    def __init__(self, models: ModelService, policy: PathPolicy | None = None):
        self.models = models
        self.policy = policy or PathPolicy.from_env()

    def _folder(self, record: dict) -> Path:
        folder = Path(record["path"])
        if not folder.is_dir():
            raise ModelAccessError(f"The files of model '{record['name']}' are gone ({folder}).", "Delete it from the registry.")
        return folder

    def default_target(self, model_ref: str, fmt: str = "merged", gguf_type: str = "q8_0") -> Path:
        """``<data folder>/exports/<name>-<format>[-<type>]``: where an export goes when no folder is given."""
        record = self.models.get_model(model_ref)
        suffix = f"gguf-{gguf_type}" if fmt == "gguf" else fmt
        return self.policy.exports_dir / f"{safe_stem(record['name'])}-{suffix}"

    def export(self, model_ref: str, target: str | Path | None = None, fmt: str = "merged", gguf_type: str = "q8_0",
               ollama: bool = False, progress: Progress | None = None) -> ExportResult:
        """Export ``model_ref`` as ``fmt`` (merged, adapter or gguf) into ``target`` (a new or empty folder, where
        the policy allows; the default under the data folder's exports/), then check it: the result's parity
        report is also written to the export folder and kept with the model.

        Raises ConfigurationError (a bad format or type, a folder that is a file or not empty, too little
        disk), PathNotAllowedError and ModelAccessError (the model's or its base's files are gone)."""
        from ..export.checked import export_adapter, export_gguf, export_merged, write_report

        if fmt not in EXPORT_FORMATS:
            raise ConfigurationError(f"'{fmt}' is not an export format.", f"Pick one of: {', '.join(EXPORT_FORMATS)}.")
        if fmt == "gguf" and gguf_type not in GGUF_TYPES:
            raise ConfigurationError(f"'{gguf_type}' is not a GGUF type ModelForge writes.", f"Pick one of: {', '.join(GGUF_TYPES)}.")
        record = self.models.get_model(model_ref)
        source = self._folder(record)
        target = self.policy.export_target(target or self.default_target(model_ref, fmt, gguf_type))
        if target.is_file():
            raise ConfigurationError(f"{target} is a file.", "Pick a new or empty folder for the export.")
        if target.exists() and any(target.iterdir()):
            raise ConfigurationError(f"{target} is not empty.", "Pick a new or empty folder for the export.")
        if progress:
            progress(0.0, f"Loading {record['name']}")
        loaded = load_registered_model(record, "cpu")
        target.parent.mkdir(parents=True, exist_ok=True)
        _check_room(_bytes_needed(loaded, source, fmt, gguf_type), target.parent, fmt)
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            if fmt == "merged":
                result = export_merged(loaded, staging, target, progress)
            elif fmt == "adapter":
                result = export_adapter(loaded, source, staging, target, progress)
            else:
                result = export_gguf(loaded, staging, target, gguf_type, ollama, progress)
            write_report(staging, result)
            if target.exists():
                target.rmdir()
            staging.rename(target)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if is_disk_full(exc):
                raise disk_full_error(target.parent, f"exporting the {fmt} model") from None
            raise
        result.files = sorted(path.name for path in target.iterdir() if path.is_file())
        self._keep(source, fmt, gguf_type if fmt == "gguf" else None, result)
        if progress:
            progress(1.0, "Done")
        return result

    @staticmethod
    def result_dict(result: ExportResult) -> dict:
        """The result as JSON: path, files, commands, notes and the parity report (None: not a causal LM)."""
        from ..export.parity import to_json_ready

        return {"path": str(result.path), "files": result.files, "commands": result.commands, "notes": result.notes,
                "report": to_json_ready(result.report) if result.report else None}

    def export_merged(self, model_ref: str, target: str | Path) -> Path:
        """Save base + adapter merged into ``target``; returns the folder (see ``export``)."""
        return self.export(model_ref, target, "merged").path

    @staticmethod
    def _keep(source: Path, fmt: str, gguf_type: str | None, result: ExportResult) -> None:
        """Add this export and its report to the model folder's exports.json (newest last)."""
        from ..export.parity import to_json_ready

        path = source / EXPORTS_FILE
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            kept = []
        kept.append({"format": fmt, "type": gguf_type, "path": str(result.path), "files": result.files,
                     "commands": result.commands, "when": datetime.now(UTC).isoformat(timespec="seconds"),
                     "report": to_json_ready(result.report) if result.report else None})
        temporary = path.with_name(f".{EXPORTS_FILE}.tmp")
        temporary.write_text(json.dumps(kept, indent=2), encoding="utf-8")
        temporary.replace(path)

    def exports_of(self, model_ref: str) -> list[dict]:
        """The model's exports with their parity reports, newest last (empty when none was made)."""
        folder = self._folder(self.models.get_model(model_ref))
        try:
            return json.loads((folder / EXPORTS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []

    def zip_adapter(self, model_ref: str, target: str | Path) -> Path:
        """The model's folder (adapter, tokenizer, model card, modelforge.json) as a zip file at ``target``.

        Entries are plain relative names under ``safe_stem(name)/``; a link leading out of the folder is left out.
        """
        record = self.models.get_model(model_ref)
        folder = self._folder(record).resolve()
        target = Path(target).expanduser().resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        stem = safe_stem(record["name"])
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                inside = path.resolve().is_relative_to(folder)
                if path.is_file() and inside and path.name != "training_args.bin":
                    archive.write(path, f"{stem}/{path.relative_to(folder).as_posix()}")
        return target

    def push_to_hub(self, model_ref: str, repo_id: str, token: str | None, private: bool = True) -> str:
        """Upload the model folder to ``repo_id`` in one commit; returns the repo URL.

        The published model card is the folder's, with the registered name and a snippet that loads
        ``repo_id`` (the local card names the local folder).
        """
        record = self.models.get_model(model_ref)
        folder = self._folder(record)
        if not repo_id or "/" not in repo_id.strip("/"):
            raise ConfigurationError(f"'{repo_id}' is not a Hub repo id.", "Write it as your-name/model-name.")
        if is_offline():
            raise ModelAccessError(
                "This machine is offline: nothing can be pushed to the Hugging Face Hub.",
                "Connect to the internet (and unset HF_HUB_OFFLINE), then push again.",
            )
        from huggingface_hub import CommitOperationAdd, HfApi
        from huggingface_hub.errors import HfHubHTTPError

        card = _hub_card(folder, record, repo_id)
        operations = [
            CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(), path_or_fileobj=str(path))
            for path in _files_to_publish(folder)
            if not (card is not None and path == folder / "README.md")
        ]
        if card is not None:
            operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card.encode("utf-8")))
        api = HfApi(token=token or None)
        try:
            url = api.create_repo(repo_id, private=private, exist_ok=True)
            api.create_commit(repo_id, operations=operations, commit_message=f"Upload {record['name']} (ModelForge)")
        except HfHubHTTPError as exc:
            raise ModelAccessError(f"The Hub refused the push to {repo_id}: {exc}", "Check the token's write access.") from None
        return str(url)


def _bytes_needed(loaded, source: Path, fmt: str, gguf_type: str) -> int:
    """What the export will write: the adapter folder's files, or the weights at the export's precision."""
    if fmt == "adapter":
        return sum(path.stat().st_size for path in source.iterdir() if path.is_file()) + EXPORT_MARGIN_BYTES
    model = loaded.model
    if fmt == "merged":
        # merging leaves the base's own weights: the adapter's tensors are not saved
        tensors = model.get_base_model().state_dict() if loaded.has_adapter else model.state_dict()
        return sum(t.numel() * t.element_size() for name, t in tensors.items() if "lora_" not in name) + EXPORT_MARGIN_BYTES
    weights = sum(p.numel() for name, p in model.named_parameters() if "lora_" not in name)
    return int(weights * GGUF_BYTES_PER_WEIGHT[gguf_type]) + EXPORT_MARGIN_BYTES


def _check_room(need: int, folder: Path, fmt: str) -> None:
    """Refuse, before writing, an export that needs more space than ``folder``'s disk has free."""
    free = free_bytes(folder)
    if free < need:
        what = {"merged": "the merged weights", "adapter": "the adapter", "gguf": "the GGUF file"}[fmt]
        raise ConfigurationError(
            f"Not enough disk space to export: {what} need about {size_in_words(need)} and the disk "
            f"holding {folder} has {size_in_words(free)} free.",
            "Free space on that disk, or export to a folder on a bigger one.",
        )


def _files_to_publish(folder: Path) -> list[Path]:
    """The folder's files, without the trainer's pickled arguments and hidden (temporary) files."""
    return [
        path for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "training_args.bin"
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]


def _hub_card(folder: Path, record: dict, repo_id: str) -> str | None:
    """The card to publish: its snippet loads ``repo_id``; None for a folder without modelforge.json."""
    if not (folder / METADATA_FILE).is_file():
        return None
    metadata = {**read_model_metadata(folder), "name": record["name"]}
    return render_model_card(folder, **card_fields(metadata), repo_id=repo_id)
