"""Where a model comes from: a local folder or a Hub id, checked quickly and offline-safely.

Returns the model's ``config.json`` contents without downloading weights, so that a missing or
unreachable model fails in seconds, never after a long wait on the network.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..exceptions import ModelAccessError
from ..settings import is_offline

HUB_TIMEOUT_S = 10


def is_local_model(model_id: str) -> bool:
    """True when ``model_id`` names an existing folder."""
    return Path(model_id).expanduser().is_dir()


def read_model_config(model_id: str) -> dict:
    """The model's config.json as a dict, from a folder, the local cache, or the Hub (no weights)."""
    path = Path(model_id).expanduser()
    if path.is_dir():
        return _read_local_config(path)
    if _looks_like_path(model_id):
        raise ModelAccessError(
            f"Model folder not found: {model_id}",
            "Give an existing folder that holds config.json, or a Hub id such as 'Qwen/Qwen2.5-0.5B-Instruct'.",
        )
    cached = _cached_config(model_id)
    if cached is not None:
        return cached
    if is_offline():
        raise ModelAccessError(
            f"Model '{model_id}' is not in the local cache and this machine is offline.",
            "Connect to the internet, download the model once, or pick a local model folder "
            "(`python -m modelforge_core demo` builds one).",
        )
    return _hub_config(model_id)


def _looks_like_path(model_id: str) -> bool:
    return model_id.startswith((".", "/", "~")) or "\\" in model_id or model_id.count("/") > 1


def _read_local_config(path: Path) -> dict:
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelAccessError(
            f"{path} is not a model folder: it has no config.json.",
            "Point to the folder that holds config.json and the weights (as saved by save_pretrained).",
        )
    try:
        return json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelAccessError(f"{config_file} is not valid JSON: {exc}", "Re-save or re-download the model.") from exc


def _cached_config(model_id: str) -> dict | None:
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(model_id, "config.json")
    except Exception:  # an id the cache cannot even parse is handled by the Hub lookup
        return None
    if isinstance(found, str) and Path(found).is_file():
        return json.loads(Path(found).read_text(encoding="utf-8"))
    return None


def _hub_config(model_id: str) -> dict:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        RepositoryNotFoundError,
    )

    try:
        local = hf_hub_download(model_id, "config.json", etag_timeout=HUB_TIMEOUT_S)
    except GatedRepoError as exc:
        raise ModelAccessError(
            f"Model '{model_id}' is gated: you need to accept its license on the Hub.",
            "Accept the terms on the model's Hub page, then log in with `hf auth login` or set HF_TOKEN.",
        ) from exc
    except (RepositoryNotFoundError, HFValidationError) as exc:
        raise ModelAccessError(
            f"Model '{model_id}' does not exist on the Hugging Face Hub (or it is private).",
            "Check the spelling (org/name); for a private model set HF_TOKEN.",
        ) from exc
    except EntryNotFoundError as exc:
        raise ModelAccessError(f"Model '{model_id}' has no config.json.", "Pick a transformers model.") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise ModelAccessError(
            f"Could not reach the Hugging Face Hub for '{model_id}': {exc}",
            "Check your network, or set HF_HUB_OFFLINE=1 and use a local model.",
        ) from exc
    return json.loads(Path(local).read_text(encoding="utf-8"))
