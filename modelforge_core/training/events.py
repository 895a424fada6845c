"""``events.jsonl``: one JSON object per line, appended by the worker and read by followers.

Types: ``status`` (status, message), ``log`` (message, level), ``progress`` (step, total_steps,
epoch, elapsed_s, eta_s, tokens_per_s), ``train`` (step, loss, learning_rate, grad_norm),
``eval`` (step, eval_loss, perplexity, ...), ``end`` (status, model_id, metrics, error).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


class EventLog:
    """Append-only event file; safe to write from the worker and the service (O_APPEND, one write per line)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def write(self, type_: str, **fields: Any) -> dict:
        event = {"time": round(time.time(), 3), "type": type_, **fields}
        line = (json.dumps(event, default=str) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return event

    def log(self, message: str, level: str = "info") -> dict:
        return self.write("log", message=message, level=level)

    def read_from(self, offset: int = 0) -> tuple[list[dict], int]:
        """Complete events after byte ``offset``, and the offset to read from next."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(offset)
                data = handle.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1
        events = []
        for raw in data[:end].splitlines():
            try:
                events.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
        return events, offset + end

    def read_all(self) -> list[dict]:
        return self.read_from(0)[0]


class SilentEventLog(EventLog):
    """The event log as the job's other processes see it: they read it, only the main process writes it."""

    def write(self, type_: str, **fields: Any) -> dict:
        return {"time": round(time.time(), 3), "type": type_, **fields}
