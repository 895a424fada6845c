"""``PathPolicy``: which paths from user input the app may read and write.

On this machine only (loopback, no ``--share``), as for the CLI, every path works. When the app is
reachable by others (``Settings.exposed``), a dataset is read only from the data folder (uploads
included), the bundled samples and the folders the owner allows (``--allow-path``); a local model
folder only from the data folder and those folders; and a merged export is written only under
``<data folder>/exports``. Hub ids still work. Every path is resolved (``~``, ``..`` and symlinks)
before it is checked, so a link or a ``../`` cannot lead out of its root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data.samples import SAMPLES_DIR
from ..exceptions import ConfigurationError, PathNotAllowedError
from ..hub_ids import looks_like_hub_id
from ..settings import Settings, get_settings

SHARED_WHY = "this app is reachable by others (shared mode)"


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _names_local_path(value: str) -> bool:
    """True when ``value`` would be read from disk: it exists, or it is no Hub id (so a path)."""
    return Path(value).expanduser().exists() or not looks_like_hub_id(value)


@dataclass(frozen=True)
class PathPolicy:
    """Where paths from user input may point; ``exposed`` False confines nothing."""

    home: Path
    exposed: bool = False
    allowed: tuple[Path, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> PathPolicy:
        allowed = tuple(Path(folder).expanduser().resolve() for folder in settings.allowed_paths)
        return cls(Path(settings.home).expanduser().resolve(), settings.exposed, allowed)

    @classmethod
    def from_env(cls) -> PathPolicy:
        """The policy of this process's settings (``app.py`` sets them before any service is built)."""
        return cls.from_settings(get_settings())

    @property
    def mode(self) -> str:
        return "shared" if self.exposed else "local"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    def dataset_roots(self) -> tuple[Path, ...]:
        return (self.home, SAMPLES_DIR.resolve(), *self.allowed)

    def model_roots(self) -> tuple[Path, ...]:
        return (self.home, *self.allowed)

    def _allowed_words(self) -> str:
        return ", ".join(str(folder) for folder in self.allowed) or "no other folder (none allowed with --allow-path)"

    def _refuses(self, value: str, roots: tuple[Path, ...]) -> bool:
        """True when this app must not read ``value``: it is shared, and ``value`` is a path outside ``roots``."""
        if not self.exposed or not value or not _names_local_path(value):
            return False
        resolved = Path(value).expanduser().resolve()
        return not any(_inside(resolved, root) for root in roots)

    def check_dataset(self, source: str) -> str:
        """``source`` as given when it may be read: any path locally; shared, a Hub id or a file in the roots."""
        if self._refuses((source or "").strip(), self.dataset_roots()):
            raise PathNotAllowedError(
                f"Reading the dataset '{source.strip()}' was refused: {SHARED_WHY}, so datasets are read only from "
                f"uploads, the data folder, the bundled samples and {self._allowed_words()}.",
            )
        return source

    def check_model(self, model_name: str) -> str:
        """``model_name`` as given when it may be read: a Hub id, or (shared) a folder in the roots."""
        if self._refuses((model_name or "").strip(), self.model_roots()):
            raise PathNotAllowedError(
                f"Loading the model folder '{model_name.strip()}' was refused: {SHARED_WHY}, so local models are "
                f"read only from the data folder and {self._allowed_words()}.",
                "Give a Hub id, train from a demo or registered model, or start the app with --allow-path DIR "
                "for the folder that holds the model.",
            )
        return model_name

    def export_target(self, folder: str | Path) -> Path:
        """The resolved folder to export into: as given locally; shared, only under ``<data folder>/exports``
        (a relative name is made there)."""
        text = str(folder or "").strip()
        if not text:
            where = f" (it is made under {self.exports_dir})" if self.exposed else ""
            raise ConfigurationError("No export folder given.", f"Write the folder to export into, e.g. my-model-merged{where}.")
        path = Path(text).expanduser()
        if not self.exposed:
            return path.resolve()
        exports = self.exports_dir.resolve()
        target = (path if path.is_absolute() else exports / path).resolve()
        if target == exports or not _inside(target, exports):
            raise PathNotAllowedError(
                f"Exporting to '{text}' was refused: {SHARED_WHY}, so exports are written only inside the data "
                f"folder, under {exports}.",
                "Give a folder name such as my-model-merged (it is made there), or run the app for this machine "
                "only (without --host, --share) to export anywhere.",
            )
        return target

    def describe(self) -> str:
        """The mode in one line, for people (the Hardware tab, ``/api/info``)."""
        if not self.exposed:
            return "local (this machine only): datasets, model folders and exports may be anywhere on this machine"
        return (
            f"shared (reachable by others): datasets only from uploads, the data folder, the bundled samples and "
            f"{self._allowed_words()}; exports only inside the data folder ({self.exports_dir})"
        )

    def to_dict(self) -> dict:
        """``{"mode": "local"|"shared", "allowed_paths": [...], "description": ...}``."""
        return {"mode": self.mode, "allowed_paths": [str(folder) for folder in self.allowed], "description": self.describe()}
