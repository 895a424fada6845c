"""``ExportService``: a fine-tuned model out of the registry: merged weights, an adapter zip, the Hub.

A merged export (the adapter folded into the base) is a plain transformers model in safetensors with
its tokenizer, written where the ``PathPolicy`` allows (a shared app: only under the data folder's
``exports/``). An adapter zip holds plain relative entries under a safe stem of the model's name. A
Hub push takes the token for that call only: it is never written to the database, a log or the
model folder; offline it fails at once.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from ..disk import MB, disk_full_error, free_bytes, is_disk_full, size_in_words
from ..exceptions import ConfigurationError, ModelAccessError
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


class ExportService:
    """Exports registered models."""

    def __init__(self, models: ModelService, policy: PathPolicy | None = None):
        self.models = models
        self.policy = policy or PathPolicy.from_env()

    def _folder(self, record: dict) -> Path:
        folder = Path(record["path"])
        if not folder.is_dir():
            raise ModelAccessError(f"The files of model '{record['name']}' are gone ({folder}).", "Delete it from the registry.")
        return folder

    def export_merged(self, model_ref: str, target: str | Path) -> Path:
        """Save base + adapter merged into ``target`` (a new or empty folder, where the policy allows); returns it."""
        record = self.models.get_model(model_ref)
        self._folder(record)
        target = self.policy.export_target(target)
        if target.is_file():
            raise ConfigurationError(f"{target} is a file.", "Pick a new or empty folder for the export.")
        if target.exists() and any(target.iterdir()):
            raise ConfigurationError(f"{target} is not empty.", "Pick a new or empty folder for the export.")
        loaded = load_registered_model(record, "cpu")
        model = loaded.model.merge_and_unload() if loaded.has_adapter else loaded.model
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        _check_room(model, target.parent)
        try:
            model.save_pretrained(staging, safe_serialization=True)
            loaded.tokenizer.save_pretrained(staging)
            if target.exists():
                target.rmdir()
            staging.rename(target)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if is_disk_full(exc):
                raise disk_full_error(target.parent, "exporting the merged model") from None
            raise
        return target

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


def _check_room(model, folder: Path) -> None:
    """Refuse, before writing, an export whose weights need more space than ``folder``'s disk has free."""
    need = sum(tensor.numel() * tensor.element_size() for tensor in model.state_dict().values()) + EXPORT_MARGIN_BYTES
    free = free_bytes(folder)
    if free < need:
        raise ConfigurationError(
            f"Not enough disk space to export: the merged weights need about {size_in_words(need)} and the disk "
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
