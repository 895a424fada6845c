"""The files of one run folder, ``MODELFORGE_HOME/runs/<job_id>/``.

A checkpoint counts only when complete: the trainer writes ``trainer_state.json`` last, after the
weights, the optimizer and the random states, so a checkpoint whose state file is missing or cut
short (a full disk, a killed process) is half-written and never resumed from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

WEIGHT_FILES = ("adapter_model.safetensors", "model.safetensors", "model.safetensors.index.json",
                "adapter_model.bin", "pytorch_model.bin", "pytorch_model.bin.index.json")


def checkpoint_step(path: Path) -> int | None:
    """N of a ``checkpoint-N`` folder; None for any other name."""
    number = path.name.removeprefix("checkpoint-")
    return int(number) if path.name.startswith("checkpoint-") and number.isdigit() else None


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete checkpoint, in words; None when it is one."""
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "it has no trainer_state.json (the save did not finish)"
    except (OSError, ValueError):
        return "its trainer_state.json is cut short or unreadable"
    if not isinstance(state, dict) or state.get("global_step") != checkpoint_step(path):
        return "its trainer_state.json is for another step"
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        return "it holds no weights"
    return None


@dataclass(frozen=True)
class RunFiles:
    """Paths inside a run folder; state lives here and in the database, never only in memory."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def events(self) -> Path:
        return self.root / "events.jsonl"

    @property
    def log(self) -> Path:
        return self.root / "worker.log"

    @property
    def stop_request(self) -> Path:
        return self.root / "STOP"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def checkpoint_folders(self) -> list[Path]:
        """Every ``checkpoint-<step>`` folder, complete or not, oldest step first."""
        if not self.checkpoints.is_dir():
            return []
        found = [p for p in self.checkpoints.iterdir() if p.is_dir() and checkpoint_step(p) is not None]
        return sorted(found, key=checkpoint_step)

    def last_checkpoint(self) -> Path | None:
        """The newest complete ``checkpoint-<step>`` folder, or None."""
        complete = [p for p in self.checkpoint_folders() if checkpoint_problem(p) is None]
        return complete[-1] if complete else None

    def incomplete_checkpoints(self) -> dict[Path, str]:
        """Half-written checkpoint folders and why each is incomplete."""
        found = {p: checkpoint_problem(p) for p in self.checkpoint_folders()}
        return {p: problem for p, problem in found.items() if problem}
