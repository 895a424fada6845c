"""Free disk space, and a full disk told in words: what the data folder's disk has left and what to do.

A full disk shows up as an ``OSError`` (ENOSPC, EDQUOT), as torch's "file write failed" from its
checkpoint writer, or as SQLite's "database or disk is full"; ``is_disk_full`` knows all three.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from .exceptions import TrainingError

_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_FULL_WORDS = ("no space left on device", "disk quota exceeded", "database or disk is full", "file write failed")
MB = 1024**2


def free_bytes(path: str | Path) -> int:
    """Bytes free for this user on the disk holding ``path`` (or its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def size_in_words(size: float) -> str:
    """``12 MB``, ``1.4 GB``: a size as people read it."""
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    return f"{size / MB:.0f} MB" if size >= MB else f"{size / 1024:.0f} KB"


def is_disk_full(exc: BaseException | None) -> bool:
    """True when ``exc`` (or an exception it was raised from) says the disk or quota is full."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if any(words in str(exc).lower() for words in _FULL_WORDS):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def disk_full_error(home: str | Path, doing: str = "training") -> TrainingError:
    """The error for a full disk under MODELFORGE_HOME, with the space left now."""
    return TrainingError(
        f"The disk holding the data folder ({home}) is full while {doing}: {size_in_words(free_bytes(home))} free.",
        "Free space on that disk, or move MODELFORGE_HOME (python app.py --data-dir PATH) to a bigger one; "
        "a stopped or failed job then resumes from its last complete checkpoint.",
    )
