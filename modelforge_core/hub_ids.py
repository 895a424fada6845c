"""Telling a Hugging Face Hub repo id (``org/name`` or ``name``) from a file name, written once."""

from __future__ import annotations

import re

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
FILE_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}$")


def looks_like_hub_id(value: str) -> bool:
    """``name`` or ``org/name`` in the Hub's characters, without a file extension (``org/Qwen2.5-set`` counts)."""
    value = (value or "").strip()
    return bool(HUB_ID.match(value)) and ".." not in value and not FILE_EXTENSION.search(value)
