"""``ModelService``: the registry of fine-tuned models (create, list, get, rename, delete)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ..database.database_manager import DatabaseManager
from ..exceptions import (
    ConfigurationError,
    DatabaseError,
    ModelAccessError,
    NotFoundError,
)
from ..logging_config import get_logger
from ..model_card import METADATA_FILE, read_model_metadata, write_card_from_metadata, write_model_metadata
from ..names import check_model_name
from ..settings import Settings

logger = get_logger("models")


@dataclass(frozen=True)
class ModelCardSections:
    """A model card (the folder's README.md) in its two parts: the Hub's YAML front matter and the Markdown body."""

    front_matter: str
    body: str

    @classmethod
    def of(cls, text: str) -> ModelCardSections:
        """Split a card's text; a card that does not open with a ``---`` line has no front matter."""
        lines = text.split("\n")
        if lines[0].strip() == "---":
            for end, line in enumerate(lines[1:], start=1):
                if line.strip() == "---":
                    return cls("\n".join(lines[1:end]), "\n".join(lines[end + 1:]).strip("\n"))
        return cls("", text)


class ModelService:
    """The registry of fine-tuned models: create, list, get, rename, delete."""

    def __init__(self, db: DatabaseManager, settings: Settings):
        self._db = db
        self._settings = settings

    def register_model(
        self,
        *,
        name: str,
        base_model: str,
        task: str,
        strategy: str,
        provider: str,
        path: str | Path,
        config: dict,
        metrics: dict,
        job_id: str | None = None,
    ) -> dict:
        """Add a saved model to the registry; a taken name gets ``-2``, ``-3``, ... appended.

        A folder saved by ModelForge (it holds modelforge.json) gets its metadata and model card
        rewritten with the registered name.

        Raises ModelAccessError when ``path`` is not an existing folder, ConfigurationError for an
        empty name, DatabaseError when the row cannot be written.
        """
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise ModelAccessError(
                f"The model folder {folder} does not exist.", "Save the model before registering it."
            )
        base = check_model_name(name)
        fields = {
            "base_model": base_model, "task": task, "strategy": strategy, "provider": provider,
            "path": str(folder.resolve()), "config": config, "metrics": metrics or {}, "job_id": job_id,
        }
        for _ in range(5):  # another process may take the same free name between check and insert
            candidate = self._free_name(base)
            try:
                model = self._db.add_model(name=candidate, **fields)
            except DatabaseError:
                if self._db.get_model_by_name(candidate) is None:
                    raise
                continue
            self._write_card(model)
            return model
        raise DatabaseError(f"Could not find a free name for model '{base}'.", "Try again with another name.")

    def _free_name(self, base: str) -> str:
        if self._db.get_model_by_name(base) is None:
            return base
        n = 2
        while self._db.get_model_by_name(f"{base}-{n}") is not None:
            n += 1
        return f"{base}-{n}"

    def list_models(self) -> list[dict]:
        """All registered models, newest first."""
        return self._db.list_models()

    def get_model(self, id_or_name: str) -> dict:
        """The model with this id (or, failing that, this name); NotFoundError otherwise."""
        model = self._db.get_model(id_or_name) or self._db.get_model_by_name(id_or_name)
        if model is None:
            raise NotFoundError(
                f"No model with id or name '{id_or_name}'.",
                "List the models with `python -m modelforge_core models list`.",
            )
        return model

    def model_card(self, id_or_name: str) -> ModelCardSections | None:
        """The model's card, split into front matter and body; None when its folder holds no README.md."""
        card = Path(self.get_model(id_or_name)["path"]) / "README.md"
        return ModelCardSections.of(card.read_text(encoding="utf-8")) if card.is_file() else None

    def rename_model(self, id_or_name: str, new_name: str) -> dict:
        """Give a model a new registry name (its folder stays; its card and metadata take the new name).

        ConfigurationError if the name is empty or taken.
        """
        model = self.get_model(id_or_name)
        name = check_model_name(new_name)
        if name == model["name"]:
            return model
        taken = self._db.get_model_by_name(name)
        if taken is not None:
            raise ConfigurationError(
                f"The model name '{name}' is already taken (model {taken['id']}).", "Choose another name."
            )
        try:
            updated = self._db.update_model(model["id"], name=name)
        except DatabaseError:
            if self._db.get_model_by_name(name) is not None:
                raise ConfigurationError(f"The model name '{name}' is already taken.", "Choose another name.") from None
            raise
        if updated is None:
            raise NotFoundError(f"Model '{model['id']}' was deleted meanwhile.")
        self._write_card(updated)
        return updated

    @staticmethod
    def _write_card(model: dict) -> None:
        """Give the folder's modelforge.json and README.md the model's registered name.

        Only in folders saved by ModelForge; a card that cannot be written is logged, not raised:
        the registry row is the truth and the card can be written again by a rename.
        """
        folder = Path(model["path"])
        if not (folder / METADATA_FILE).is_file():
            return
        try:
            metadata = read_model_metadata(folder)
            if metadata.get("name") != model["name"]:
                metadata["name"] = model["name"]
                write_model_metadata(folder, metadata)
            write_card_from_metadata(folder, metadata)
        except (OSError, ModelAccessError) as exc:
            logger.warning("model card not rewritten", extra={"fields": {"id": model["id"], "error": str(exc)}})

    def delete_model(self, id_or_name: str) -> dict:
        """Delete a model's folder (only strictly inside MODELFORGE_HOME), then its row.

        Returns ``{"id", "name", "path", "files_deleted", "message"}``. A folder outside home is
        left in place; a missing folder is fine. Raises NotFoundError, or ModelAccessError when
        the files cannot be removed (the row is then kept, so the delete can be retried).
        """
        model = self.get_model(id_or_name)
        path = Path(model["path"])
        files_deleted = False
        name = model["name"]
        if not self._may_delete(path):
            home = self._settings.home
            where = (f"its folder {path} is outside the data folder {home}" if not self._settings.is_inside_home(path)
                     else f"{path} is the data folder {home} or one of its own folders")
            message = f"Deleted **{name}** from the registry and kept its files: {where}."
        elif not path.exists() and not path.is_symlink():
            message = f"Deleted **{name}**; its files were already gone."
        else:
            self._remove(path)
            files_deleted = True
            message = f"Deleted **{name}** and its files."
        self._db.delete_model(model["id"])
        logger.info("model deleted", extra={"fields": {"id": model["id"], "files_deleted": files_deleted}})
        return {"id": model["id"], "name": model["name"], "path": str(path), "files_deleted": files_deleted,
                "message": message}

    def _may_delete(self, path: Path) -> bool:
        """Strictly inside home, and not one of home's own folders or a folder holding them."""
        if not self._settings.is_inside_home(path):
            return False
        resolved = path.resolve()
        s = self._settings
        protected = [s.home / "database", s.runs_dir, s.models_dir, s.demo_dir, s.uploads_dir]
        return not any(p.resolve() == resolved or resolved in p.resolve().parents for p in protected)

    @staticmethod
    def _remove(path: Path) -> None:
        try:
            if path.is_symlink() or not path.is_dir():
                path.unlink()
            else:
                shutil.rmtree(path)
        except OSError as exc:
            raise ModelAccessError(
                f"Could not delete the model folder {path}: {exc}",
                "Close programs using these files, check permissions, and delete again.",
            ) from exc
