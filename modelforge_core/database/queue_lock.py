"""The job queue's lock, held by whoever advances the queue: every app and CLI sharing one database.

On PostgreSQL it is a session-level advisory lock on one connection held for the lock's duration (so
processes on other folders, even other machines, exclude each other); on SQLite a file lock beside
the database file; an in-memory SQLite database lives in one process, so a thread lock does.
A server database other than PostgreSQL gets a file lock in the temp folder (this machine only).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from ..exceptions import DatabaseError
from .errors import to_database_error

QUEUE_LOCK_KEY = int.from_bytes(b"mfqueue", "big")  # the advisory lock's 64-bit key: "mfqueue" in ASCII
QUEUE_LOCK_TIMEOUT_S = 60.0
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ran out (whatever the server's language)
_HOLDER_HINT = (
    "Another ModelForge app or CLI using this database is advancing the job queue and has not let go; "
    "try again, and if it keeps happening, stop the process that hangs."
)


def _timed_out(where: str, timeout: float) -> DatabaseError:
    return DatabaseError(f"Timed out after {timeout:g} s waiting for the job queue lock ({where}).", _HOLDER_HINT)


@contextmanager
def postgres_advisory_lock(engine: Engine, timeout: float) -> Iterator[None]:
    """Hold ``pg_advisory_lock(QUEUE_LOCK_KEY)`` on one connection; DatabaseError after ``timeout`` seconds."""
    url = engine.url.render_as_string(hide_password=True)
    try:
        connection = engine.connect()
    except SQLAlchemyError as exc:
        raise to_database_error(exc, "taking the job queue lock", url) from exc
    try:
        try:
            connection.execute(text(f"SET LOCAL lock_timeout = '{max(1, int(timeout * 1000))}ms'"))
            connection.execute(select(func.pg_advisory_lock(QUEUE_LOCK_KEY)))
            connection.commit()  # the session-level lock stays; SET LOCAL ends with the transaction
        except SQLAlchemyError as exc:
            if getattr(getattr(exc, "orig", None), "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise _timed_out(url, timeout) from exc
            raise to_database_error(exc, "taking the job queue lock", url) from exc
        yield
    finally:
        _release(connection)


def _release(connection) -> None:
    """Unlock and return the connection; a connection that cannot unlock is dropped (its lock goes with it)."""
    try:
        if not connection.invalidated:
            connection.rollback()  # a failed attempt leaves its transaction open
            connection.execute(select(func.pg_advisory_unlock_all()))
            connection.commit()
    except SQLAlchemyError:
        connection.invalidate()
    finally:
        connection.close()


@contextmanager
def file_lock(database_file: Path, timeout: float) -> Iterator[None]:
    """Hold the file lock ``<database file>.queue.lock``; DatabaseError after ``timeout`` seconds."""
    lock = FileLock(str(database_file.with_name(database_file.name + ".queue.lock")), timeout=timeout)
    try:
        lock.acquire()
    except Timeout as exc:
        raise _timed_out(lock.lock_file, timeout) from exc
    try:
        yield
    finally:
        lock.release()


@contextmanager
def thread_lock(lock: threading.Lock, timeout: float, where: str) -> Iterator[None]:
    """Hold ``lock`` (for a database that only this process sees); DatabaseError after ``timeout`` seconds."""
    if not lock.acquire(timeout=timeout):
        raise _timed_out(where, timeout)
    try:
        yield
    finally:
        lock.release()
