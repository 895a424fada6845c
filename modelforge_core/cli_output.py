"""How the CLI shows jobs, events and models in a terminal."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

SHOWN_EVAL_METRICS = (
    "loss", "perplexity", "rouge1", "rouge2", "rougeL", "exact_match", "f1", "rewards/accuracies", "rewards/margins", "accuracy",
)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60:02d}:{seconds % 60:02d}"


def progress_bar(step: int, total: int, width: int = 30) -> str:
    filled = int(width * step / total) if total else 0
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class EventPrinter:
    """Prints events: a live progress line on a terminal, plain lines elsewhere."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout  # the stdout of now: one bound at import may be closed since
        self.tty = self.stream.isatty()
        self.last_loss: float | None = None
        self._open_line = False

    def _line(self, text: str) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def show(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "progress":
            self._progress(event)
        elif kind == "train":
            self.last_loss = event.get("loss")
            if not self.tty:
                self._line(f"step {event.get('step')}: loss {event.get('loss'):.4f}")
        elif kind == "eval":
            shown = {k.removeprefix("eval_"): v for k, v in event.items() if k.startswith("eval_") and k.removeprefix("eval_") in SHOWN_EVAL_METRICS}
            self._line(f"eval @ step {event.get('step')}: " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items() if isinstance(v, (int, float))))
        elif kind == "phase":
            self._line(f"[{_duration(event.get('elapsed_s'))}] {event.get('message') or event.get('phase', '')}")
        elif kind == "queue":
            self._line(f"queued: position {event.get('position')} in the queue")
        elif kind in ("status", "log"):
            self._line(event.get("message") or event.get("status", ""))
        elif kind == "end":
            self._end(event)

    def _progress(self, event: dict) -> None:
        step, total = event.get("step", 0), event.get("total_steps", 0)
        pct = 100 * step / total if total else 0
        loss = f" loss {self.last_loss:.4f}" if self.last_loss is not None else ""
        text = (
            f"{progress_bar(step, total)} {step}/{total} ({pct:3.0f}%){loss} "
            f"elapsed {_duration(event.get('elapsed_s'))} left {_duration(event.get('eta_s'))}"
        )
        if self.tty:
            self.stream.write("\r" + text)
            self.stream.flush()
            self._open_line = True
        elif step == total or step % 10 == 0:
            self._line(text)

    def _end(self, event: dict) -> None:
        status = event.get("status")
        if status == "completed":
            self._line(f"completed: model {event.get('model_name')} (id {event.get('model_id')})")
            for key, value in (event.get("metrics") or {}).items():
                self._line(f"  {key}: {value}")
        elif status == "failed":
            error = event.get("error") or {}
            self._line(f"failed: {error.get('error')}: {error.get('message')}")
            if error.get("hint"):
                self._line(f"hint: {error['hint']}")
        else:
            self._line(f"{status}: {event.get('message', '')}")


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A plain aligned table of ``columns`` from ``rows``."""
    if not rows:
        print("(none)")
        return
    cells = [[str(row.get(col, "") if row.get(col) is not None else "") for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    print("  ".join(col.ljust(w) for col, w in zip(columns, widths)))
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
