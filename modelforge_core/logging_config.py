"""Structured logging, set up once per process.

Records go to stderr as ``time level logger: message key=value ...``; ``MODELFORGE_LOG_FORMAT=json``
switches to one JSON object per line. Extra fields are passed with ``extra={"fields": {...}}``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

_configured = False


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = f"{self.formatTime(record, '%Y-%m-%d %H:%M:%S')} {record.levelname:<7} {record.name}: {record.getMessage()}"
        fields = getattr(record, "fields", None)
        if fields:
            base += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            base += "\n" + self.formatException(record.exc_info)
        return base


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **(getattr(record, "fields", None) or {}),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def setup_logging(level: str | None = None) -> None:
    """Configure the ``modelforge`` loggers once; later calls only change the level."""
    global _configured
    level = (level or os.environ.get("MODELFORGE_LOG_LEVEL", "INFO")).upper()
    root = logging.getLogger("modelforge")
    root.setLevel(level)
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    json_format = os.environ.get("MODELFORGE_LOG_FORMAT", "").lower() == "json"
    handler.setFormatter(_JsonFormatter() if json_format else _KeyValueFormatter())
    root.addHandler(handler)
    root.propagate = False
    _configured = True


def get_logger(name: str) -> logging.Logger:
    """A logger under the ``modelforge`` namespace."""
    return logging.getLogger(f"modelforge.{name}")
