"""The files of one run folder, ``MODELFORGE_HOME/runs/<job_id>/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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

    def last_checkpoint(self) -> Path | None:
        """The newest ``checkpoint-<step>`` folder, or None."""
        if not self.checkpoints.is_dir():
            return None
        found = [p for p in self.checkpoints.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
        return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)
