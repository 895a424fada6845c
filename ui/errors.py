"""How the UI words a ModelForgeException: one format for notices, notifications and API errors."""

from __future__ import annotations

from modelforge_core.exceptions import ModelForgeException

WARNING_MARK = "⚠️"


def error_text(exc: ModelForgeException, *, heading: str = "", kind: bool = False, mark: bool = True) -> str:
    """``⚠️ heading (ErrorClass): message hint``: the message and its hint, always; the rest as asked.

    ``mark``: the warning sign that starts a notice in the page (a notification has its own icon).
    ``heading``: what failed, e.g. "**Not started**". ``kind``: the exception's class name (what a
    script matches on).
    """
    words = f"{exc.message} {exc.hint or ''}".strip()
    label = type(exc).__name__
    lead = (f"{heading} ({label}):" if kind else f"{heading}:") if heading else (f"{label}:" if kind else "")
    return " ".join(part for part in (WARNING_MARK if mark else "", lead, words) if part)
