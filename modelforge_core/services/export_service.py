"""``ExportService``: a fine-tuned model out of the registry: merged weights, an adapter zip, the Hub.

A merged export (the adapter folded into the base) is a plain transformers model in safetensors with
its tokenizer. A Hub push takes the token for that call only: it is never written to the database,
a log or the model folder; offline it fails at once.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from ..exceptions import ConfigurationError, ModelAccessError
from ..settings import is_offline
from .model_loading import load_registered_model
from .model_service import ModelService


class ExportService:
    """Exports registered models."""

    def __init__(self, models: ModelService):
        self.models = models

    def _folder(self, record: dict) -> Path:
        folder = Path(record["path"])
        if not folder.is_dir():
            raise ModelAccessError(f"The files of model '{record['name']}' are gone ({folder}).", "Delete it from the registry.")
        return folder

    def export_merged(self, model_ref: str, target: str | Path) -> Path:
        """Save base + adapter merged into ``target`` (a new or empty folder); returns it."""
        record = self.models.get_model(model_ref)
        self._folder(record)
        target = Path(target).expanduser().resolve()
        if target.exists() and any(target.iterdir()):
            raise ConfigurationError(f"{target} is not empty.", "Pick a new or empty folder for the export.")
        loaded = load_registered_model(record, "cpu")
        model = loaded.model.merge_and_unload() if loaded.has_adapter else loaded.model
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            model.save_pretrained(staging, safe_serialization=True)
            loaded.tokenizer.save_pretrained(staging)
            if target.exists():
                target.rmdir()
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def zip_adapter(self, model_ref: str, target: str | Path) -> Path:
        """The model's folder (adapter, tokenizer, model card, modelforge.json) as a zip file."""
        record = self.models.get_model(model_ref)
        folder = self._folder(record)
        target = Path(target).expanduser().resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.name != "training_args.bin":
                    archive.write(path, Path(record["name"]) / path.relative_to(folder))
        return target

    def push_to_hub(self, model_ref: str, repo_id: str, token: str | None, private: bool = True) -> str:
        """Upload the model folder (with its model card) to ``repo_id``; returns the repo URL."""
        record = self.models.get_model(model_ref)
        folder = self._folder(record)
        if not repo_id or "/" not in repo_id.strip("/"):
            raise ConfigurationError(f"'{repo_id}' is not a Hub repo id.", "Write it as your-name/model-name.")
        if is_offline():
            raise ModelAccessError(
                "This machine is offline: nothing can be pushed to the Hugging Face Hub.",
                "Connect to the internet (and unset HF_HUB_OFFLINE), then push again.",
            )
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError

        api = HfApi(token=token or None)
        try:
            url = api.create_repo(repo_id, private=private, exist_ok=True)
            api.upload_folder(folder_path=str(folder), repo_id=repo_id, ignore_patterns=["training_args.bin"])
        except HfHubHTTPError as exc:
            raise ModelAccessError(f"The Hub refused the push to {repo_id}: {exc}", "Check the token's write access.") from None
        return str(url)
