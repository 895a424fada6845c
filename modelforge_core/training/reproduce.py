"""What it takes to repeat a run, kept in its model folder as ``reproduce.json``.

The exact config (its seed with it), the dataset's path and content hash, the package versions, the
machine and the command that repeats it. ``rerun`` reads it back and says when the data changed since.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from ..files import write_text_atomic
from ..packages import package_version

REPRODUCE_FILE = "reproduce.json"
PACKAGES = ("modelforge", "torch", "transformers", "trl", "peft", "datasets", "accelerate", "bitsandbytes", "unsloth", "tokenizers")
_CHUNK = 16 * 1024 * 1024


def dataset_fingerprint(dataset: str) -> dict:
    """{"path", "sha256", "bytes"} of a local file or folder (its files in name order); a Hub id is named only
    (its content is the Hub's, not pinned here)."""
    path = Path(dataset)
    if not path.exists():
        return {"hub_id": dataset, "sha256": None, "note": "a Hub dataset: its revision is not pinned"}
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest, size = hashlib.sha256(), 0
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode("utf-8") + b"\0")
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
    return {"path": str(path.resolve()), "sha256": digest.hexdigest(), "bytes": size}


def machine_record() -> dict:
    """The machine the run trained on: OS, Python, CPU, and the GPU torch used."""
    from ..hardware.detection import cpu_name

    record = {
        "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(), "cpu": cpu_name(),
        "cpu_cores": os.cpu_count(), "device": "cpu",
    }
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        record.update(device="cuda", gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda,
                      gpus=torch.cuda.device_count())
    return record


def reproduce_record(config: Any, job_id: str | None) -> dict:
    """The record written beside a model: everything ``rerun`` needs, and what to compare a rerun with."""
    from .. import __version__

    packages = {name: package_version(name) for name in PACKAGES}
    packages["modelforge"] = packages["modelforge"] or __version__
    return {
        "config": config.to_json_dict(),
        "seed": config.seed,
        "dataset": dataset_fingerprint(config.dataset),
        "packages": {name: version for name, version in packages.items() if version},
        "machine": machine_record(),
        "job_id": job_id,
        "command": f"python -m modelforge_core rerun {job_id}" if job_id else None,
    }


def write_reproduce_record(folder: Path, record: dict) -> Path:
    return write_text_atomic(Path(folder) / REPRODUCE_FILE, json.dumps(record, indent=2))


def read_reproduce_record(folder: Path) -> dict | None:
    """The folder's record; None when there is none (a model saved before records were kept) or it is unreadable."""
    try:
        return json.loads((Path(folder) / REPRODUCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
