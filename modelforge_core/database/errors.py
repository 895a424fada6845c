"""SQLAlchemy errors turned into :class:`DatabaseError` with words: a taken name, a busy or corrupt
SQLite file, a server that cannot be reached."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..exceptions import DatabaseError

CORRUPT_SQLITE = ("database disk image is malformed", "file is not a database")
RESCAN_COMMAND = "python -m modelforge_core models rescan"


def safe_url(url: str) -> str:
    """The URL with its password hidden (or as given when it does not parse)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return url


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for another database or an in-memory one."""
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError):
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or "mode=memory" in database:
        return None
    if database.startswith("file:"):
        database = database[len("file:"):].split("?", 1)[0]
    return Path(database).expanduser().absolute()


def corrupt_database_error(path: Path, detail: str) -> DatabaseError:
    """The SQLite file at ``path`` is not a usable database: say so, and how to start again without losing models."""
    return DatabaseError(
        f"The database file {path} is corrupt ({detail}).",
        f"Move it aside (e.g. rename it to {path.name}.corrupt, and its {path.name}-wal and {path.name}-shm files "
        f"if there are any), then start again: a new empty database is created. Then `{RESCAN_COMMAND}` "
        "rebuilds the model registry from the model folders.",
    )


def to_database_error(exc: Exception, action: str, url: str) -> DatabaseError:
    """``exc`` (raised while doing ``action`` on the database at ``url``) as a DatabaseError with a hint."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    lowered = detail.lower()
    path = sqlite_file(url)
    if path is not None and any(words in lowered for words in CORRUPT_SQLITE):
        return corrupt_database_error(path, detail)
    if isinstance(exc, IntegrityError):
        hint = "A value conflicts with an existing row (for example a name already taken) or is missing."
    elif "locked" in lowered or "busy" in lowered:
        hint = "Another ModelForge process is holding the database; try again in a moment."
    elif path is None and ("connection" in lowered or "connect" in lowered):
        hint = (
            f"Check that the database server in MODELFORGE_DATABASE_URL ({safe_url(url)}) is running and reachable, "
            "and that its user, password and database name are right."
        )
    else:
        hint = None
    return DatabaseError(f"Database error while {action}: {detail}", hint)
