"""The rule for a registered model's name, checked before any work (a config's output_name, a rename).

A name is shown in the UI, stored in the registry and used for download file names, so it is a
plain label: letters, digits, ``-``, ``_``, ``.`` and spaces, starting with a letter or a digit, no
``..`` and no path separators, at most 96 characters (the Hugging Face Hub's limit for a repo name).
"""

from __future__ import annotations

import re

from .exceptions import ConfigurationError

MAX_MODEL_NAME_LENGTH = 96
_ALLOWED = re.compile(r"[^\W_][\w.\- ]*")
_RULE = "letters, digits, '-', '_', '.' and spaces, starting with a letter or a digit"


def model_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a model name, in words; None when it is fine (surrounding spaces are ignored)."""
    cleaned = name.strip()
    if not cleaned:
        return "a model name cannot be empty"
    if len(cleaned) > MAX_MODEL_NAME_LENGTH:
        return f"a model name can have at most {MAX_MODEL_NAME_LENGTH} characters; this one has {len(cleaned)}"
    separators = sorted({c for c in cleaned if c in "/\\"})
    if separators:
        return f"a model name cannot contain a path separator ({' '.join(separators)}): it is a name, not a path"
    if ".." in cleaned:
        return "a model name cannot contain '..'"
    if not _ALLOWED.fullmatch(cleaned):
        bad = sorted({c for c in cleaned if not (c.isalnum() or c in "-_. ")})
        shown = " ".join(repr(c) for c in bad) if bad else repr(cleaned[0])
        return f"a model name may use only {_RULE}; not {shown}"
    return None


def check_model_name(name: str | None) -> str:
    """``name`` without surrounding spaces; ConfigurationError in words when it breaks the rule."""
    problem = model_name_problem(name or "")
    if problem:
        raise ConfigurationError(
            f"Invalid model name {(name or '').strip()[:60]!r}: {problem}.",
            f"Use {_RULE}, e.g. 'my-model-v2' (at most {MAX_MODEL_NAME_LENGTH} characters).",
        )
    return (name or "").strip()


def name_from(text: str) -> str:
    """A valid model name made from any text (a folder or Hub id): other characters become '-'."""
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^\w.\-]+|\.{2,}", "-", text)).strip("-._ ")
    return cleaned[:MAX_MODEL_NAME_LENGTH].rstrip("-._ ") or "model"
