"""Paths, database URL and offline detection, read from the environment.

``MODELFORGE_HOME`` (default: the platform's user data folder) holds ``database/``, ``runs/``,
``models/``, ``demo/``, ``uploads/`` and ``exports/``. ``MODELFORGE_DATABASE_URL`` overrides the SQLite
database. What the app may reach when others can reach it, and its size limits, are settings too:
``MODELFORGE_EXPOSED`` (set by ``app.py`` from ``--host``/``--share``/``SPACE_ID``),
``MODELFORGE_ALLOW_PATHS`` (folders, ``os.pathsep``-separated), ``MODELFORGE_MAX_UPLOAD_MB`` and
``MODELFORGE_MAX_BODY_MB``.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .exceptions import ConfigurationError

HUB_HOST = "huggingface.co"
HUB_PROBE_TIMEOUT_S = 1.5
_TRUTHY = {"1", "true", "yes", "on"}
DEFAULT_MAX_UPLOAD_MB = 1024.0
DEFAULT_MAX_BODY_MB = 1.0
MEGABYTE = 1024 * 1024
_offline_cache: dict[str, tuple[float, bool]] = {}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUTHY


def _env_megabytes(name: str, default: float) -> float:
    """A positive size in megabytes from the environment; ConfigurationError in words otherwise."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise ConfigurationError(
            f"{name} must be a positive number of megabytes, got '{text}'.", f"Set it to e.g. {default:g}, or unset it."
        )
    return value


def _env_folders(name: str) -> tuple[Path, ...]:
    """Folders from an ``os.pathsep``-separated variable, resolved (symlinks too); empty entries skipped."""
    entries = os.environ.get(name, "").split(os.pathsep)
    return tuple(Path(entry).expanduser().resolve() for entry in entries if entry.strip())


def host_reachable(host: str, port: int = 443, timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """True when a TCP connection to ``host:port`` opens within ``timeout`` (cached for a minute)."""
    now = time.monotonic()
    key = f"{host}:{port}"
    cached = _offline_cache.get(key)
    if cached and now - cached[0] < 60:
        return cached[1]
    try:
        with socket.create_connection((host, port), timeout=timeout):
            ok = True
    except OSError:
        ok = False
    _offline_cache[key] = (now, ok)
    return ok


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """True when a TCP connection to the Hub opens within ``timeout`` (cached for a minute)."""
    return host_reachable(HUB_HOST, 443, timeout)


def is_offline() -> bool:
    """True when HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE is set or the Hub cannot be reached quickly."""
    if _env_flag("HF_HUB_OFFLINE") or _env_flag("TRANSFORMERS_OFFLINE"):
        return True
    return not hub_reachable()


@dataclass(frozen=True)
class Settings:
    """Resolved locations and limits; create with :func:`get_settings` or directly in tests.

    ``exposed``: the app is reachable by others, so paths from user input are confined
    (``services.path_access``); ``allowed_paths``: folders the owner lets them read too.
    """

    home: Path
    exposed: bool = False
    allowed_paths: tuple[Path, ...] = ()
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    max_body_mb: float = DEFAULT_MAX_BODY_MB

    @classmethod
    def from_env(cls) -> Settings:
        home = os.environ.get("MODELFORGE_HOME")
        if not home:
            from platformdirs import user_data_dir

            home = user_data_dir("modelforge", appauthor=False)
        return cls(
            home=Path(home).expanduser().resolve(),
            exposed=_env_flag("MODELFORGE_EXPOSED"),
            allowed_paths=_env_folders("MODELFORGE_ALLOW_PATHS"),
            max_upload_mb=_env_megabytes("MODELFORGE_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB),
            max_body_mb=_env_megabytes("MODELFORGE_MAX_BODY_MB", DEFAULT_MAX_BODY_MB),
        )

    @cached_property
    def database_url(self) -> str:
        url = os.environ.get("MODELFORGE_DATABASE_URL")
        return url or f"sqlite:///{self.home / 'database' / 'modelforge.sqlite'}"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def demo_dir(self) -> Path:
        return self.home / "demo"

    @property
    def uploads_dir(self) -> Path:
        return self.home / "uploads"

    @property
    def exports_dir(self) -> Path:
        """Where a shared app writes merged exports (made when the first one is written)."""
        return self.home / "exports"

    def ensure_dirs(self) -> Settings:
        """Create the folders under home; returns self."""
        for path in (self.home, self.home / "database", self.runs_dir, self.models_dir, self.uploads_dir):
            path.mkdir(parents=True, exist_ok=True)
        return self

    def is_inside_home(self, path: Path) -> bool:
        """True when ``path`` resolves to somewhere strictly inside MODELFORGE_HOME."""
        resolved = Path(path).resolve()
        return resolved != self.home and self.home in resolved.parents


def get_settings() -> Settings:
    """Settings from the current environment (not cached: tests change MODELFORGE_HOME)."""
    return Settings.from_env()
