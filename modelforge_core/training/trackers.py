"""Which experiment trackers a config may name, what each needs installed, and where each logs locally.

Light on purpose (no transformers, no tracker package imported): the queue checks a config with it
before the job is queued. The callbacks themselves are in ``tracking.py``.
"""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..exceptions import ConfigurationError
from ..packages import is_package_available
from ..settings import host_reachable

DEFAULT_PROJECT = "modelforge"
# tracker -> (modules it needs, what installs them); MLflow's local store is SQLite, through alembic
TRACKER_PACKAGES = {
    "tensorboard": (("tensorboard",), "pip install tensorboard"),
    "mlflow": (("mlflow", "alembic"), "pip install mlflow"),
    "wandb": (("wandb",), "pip install wandb"),
    "trackio": (("trackio",), "pip install trackio"),
}
PROBE_TIMEOUT_S = 3.0


def check_trackers(config: Any, home: Path) -> None:
    """ConfigurationError, before the job is queued, for a tracker whose package is missing or an MLflow
    folder outside the data folder."""
    for name in config.trackers:
        modules, install = TRACKER_PACKAGES[name]
        missing = [module for module in modules if not is_package_available(module)]
        if missing:
            raise ConfigurationError(
                f"The {name} tracker needs {', '.join(missing)}, which is not installed.",
                f"{install}, or take {name} out of trackers.",
            )
    if "mlflow" in config.trackers and config.tracking_uri and not is_server(config.tracking_uri):
        local_mlflow_folder(config.tracking_uri, home)


def project_name(config: Any) -> str:
    """The W&B or trackio project, or MLflow experiment, a run logs under."""
    return config.tracking_project or DEFAULT_PROJECT


def tensorboard_dir(run_root: Path) -> Path:
    """Where a run's TensorBoard event files are: ``tensorboard --logdir`` on the runs folder shows every run."""
    return Path(run_root) / "tensorboard"


def mlflow_store(folder: Path) -> str:
    """MLflow's local SQLite store in ``folder`` (its file store now refuses to start by default)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def default_mlflow_folder(home: Path) -> Path:
    return Path(home) / "mlflow"


def is_server(uri: str) -> bool:
    """True for an MLflow server URL (http, https, databricks), False for a local folder."""
    return urlparse(uri).scheme in ("http", "https", "databricks")


def local_mlflow_folder(uri: str, home: Path) -> Path:
    """A local MLflow folder (a path, relative to the data folder, or a file: URI), which must lie inside the data folder."""
    path = Path(urlparse(uri).path if uri.startswith("file:") else uri).expanduser()
    path = (path if path.is_absolute() else Path(home) / path).resolve()
    if not path.is_relative_to(Path(home).resolve()):
        raise ConfigurationError(
            f"tracking_uri {uri} is a folder outside the data folder {home}.",
            "Give a folder inside the data folder (a relative path is taken from it), or an MLflow server URL.",
        )
    return path


def has_wandb_key(server: str) -> bool:
    """True when W&B can log in here: WANDB_API_KEY, or a `wandb login` entry in ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(urlparse(server).hostname or "") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when the server of ``url`` accepts a connection within ``timeout`` seconds (``settings.host_reachable``)."""
    parts = urlparse(url)
    if not parts.hostname:
        return False
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port that is not a number
        return False
    return host_reachable(parts.hostname, port, timeout)
