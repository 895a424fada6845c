"""Paths, database URL and offline detection, read from the environment.

``MODELFORGE_HOME`` (default: the platform's user data folder) holds ``database/``, ``runs/``,
``models/``, ``demo/`` and ``uploads/``. ``MODELFORGE_DATABASE_URL`` overrides the SQLite database.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

HUB_HOST = "huggingface.co"
HUB_PROBE_TIMEOUT_S = 1.5
_TRUTHY = {"1", "true", "yes", "on"}
_offline_cache: dict[str, tuple[float, bool]] = {}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUTHY


def hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """True when a TCP connection to the Hub opens within ``timeout`` (cached for a minute)."""
    now = time.monotonic()
    cached = _offline_cache.get(HUB_HOST)
    if cached and now - cached[0] < 60:
        return cached[1]
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            ok = True
    except OSError:
        ok = False
    _offline_cache[HUB_HOST] = (now, ok)
    return ok


def is_offline() -> bool:
    """True when HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE is set or the Hub cannot be reached quickly."""
    if _env_flag("HF_HUB_OFFLINE") or _env_flag("TRANSFORMERS_OFFLINE"):
        return True
    return not hub_reachable()


@dataclass(frozen=True)
class Settings:
    """Resolved locations; create with :func:`get_settings` or directly in tests."""

    home: Path

    @classmethod
    def from_env(cls) -> Settings:
        home = os.environ.get("MODELFORGE_HOME")
        if not home:
            from platformdirs import user_data_dir

            home = user_data_dir("modelforge", appauthor=False)
        return cls(home=Path(home).expanduser().resolve())

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
