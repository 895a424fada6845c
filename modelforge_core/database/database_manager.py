"""``DatabaseManager``: the one door to the registry database (SQLite by default, PostgreSQL or any SQLAlchemy URL).

Several processes (the app, the CLI, training workers; on PostgreSQL even apps on other data folders)
share one database: SQLite connections use WAL mode and a 30 s busy timeout, job state changes go
through :meth:`DatabaseManager.transition_job`, a single conditional UPDATE, and whoever advances the
job queue holds :meth:`DatabaseManager.queue_lock`. Every SQLAlchemy error surfaces as :class:`DatabaseError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from os import PathLike
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from ..exceptions import ConfigurationError, DatabaseError
from .errors import safe_url, sqlite_file, to_database_error
from .models import JOB_STATES, Base, ModelRecord, TrainingJob
from .queue_lock import QUEUE_LOCK_TIMEOUT_S, file_lock, postgres_advisory_lock, thread_lock

BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10  # a database server that does not answer fails in words instead of hanging
TABLES_LOCK_KEY = int.from_bytes(b"mftables", "big")  # PostgreSQL advisory lock key while creating the tables
SERVER_POOL = {"pool_size": 10, "max_overflow": 20, "pool_pre_ping": True}  # the seed's settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; avoids an fsync per commit
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (in dicts and lists too) replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _strict_json(value: Any) -> str:
    """JSON for PostgreSQL, whose json type refuses NaN and Infinity: such a number is stored as null."""
    return json.dumps(_finite(value))


def _check_fields(table: type[Base], fields: dict[str, Any]) -> dict[str, Any]:
    columns = set(table.__table__.columns.keys())
    unknown = sorted(set(fields) - columns)
    if unknown:
        raise ConfigurationError(
            f"Unknown {table.__tablename__} field(s): {', '.join(unknown)}.",
            f"Known fields: {', '.join(sorted(columns))}.",
        )
    status = fields.get("status")
    if table is TrainingJob and status is not None and status not in JOB_STATES:
        raise ConfigurationError(f"Unknown job status '{status}'.", f"Use one of: {', '.join(JOB_STATES)}.")
    return {k: str(v) if isinstance(v, PathLike) else v for k, v in fields.items()}


class DatabaseManager:
    """Opens the database at ``url``, creates the tables, and reads and writes models and jobs.

    Raises :class:`DatabaseError` when the URL is invalid or the location cannot be opened.
    """

    def __init__(self, url: str):
        self.url = str(url)
        try:
            self.engine = self._create_engine(self.url)
        except ImportError as exc:
            raise DatabaseError(
                f"The database driver for {self._safe_url()!r} is not installed ({exc}).",
                "For PostgreSQL use a postgresql+psycopg:// URL and `pip install -r requirements.txt` "
                "(it installs psycopg); another database needs its SQLAlchemy driver.",
            ) from exc
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise DatabaseError(
                f"Cannot open the database at {self._safe_url()!r}: {exc}",
                "Check MODELFORGE_DATABASE_URL (e.g. sqlite:////path/to/file.sqlite) and that its folder is writable.",
            ) from exc
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._memory_queue_lock = threading.Lock()
        try:
            self._create_tables()
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise to_database_error(exc, f"creating the tables in {self._safe_url()}", self.url) from exc

    @staticmethod
    def _create_engine(url: str) -> Engine:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            if parsed.get_backend_name() == "postgresql":
                postgres = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}, "json_serializer": _strict_json}
                return create_engine(parsed, **postgres, **SERVER_POOL)
            return create_engine(parsed, **SERVER_POOL)
        database = parsed.database or ""
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}}
        if database in ("", ":memory:"):
            kwargs["poolclass"] = StaticPool  # one shared in-memory database for every thread
        elif not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    def _create_tables(self) -> None:
        """Create the missing tables; processes starting together create them once.

        On PostgreSQL a transaction-level advisory lock serializes the creators (DDL is transactional
        there, so the next one sees the committed tables and creates nothing). Elsewhere two processes
        may both find no table; the one whose CREATE then fails with "already exists" tries again.
        """
        if self.engine.dialect.name == "postgresql":
            with self.engine.begin() as connection:
                connection.execute(select(func.pg_advisory_xact_lock(TABLES_LOCK_KEY)))
                Base.metadata.create_all(connection)
            return
        for attempt in range(3):
            try:
                Base.metadata.create_all(self.engine)
                return
            except SQLAlchemyError as exc:  # another process created them between check and CREATE
                if "already exists" not in str(exc) or attempt == 2:
                    raise

    def _safe_url(self) -> str:
        return safe_url(self.url)

    def queue_lock(self, timeout: float = QUEUE_LOCK_TIMEOUT_S) -> AbstractContextManager[None]:
        """A context manager held while advancing the job queue, by every process using this database.

        PostgreSQL: a session-level advisory lock on one held connection; SQLite: a file lock beside
        the database file; in-memory SQLite: a lock of this manager; another server database: a file
        lock in the temp folder named after the URL (this machine's processes only). Raises
        DatabaseError in words when another holder keeps it past ``timeout`` seconds.
        """
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            return postgres_advisory_lock(self.engine, timeout)
        if dialect != "sqlite":
            digest = hashlib.sha256(self.url.encode()).hexdigest()[:16]
            return file_lock(Path(tempfile.gettempdir()) / f"modelforge-{digest}", timeout)
        database_file = sqlite_file(self.url)
        if database_file is not None:
            return file_lock(database_file, timeout)
        return thread_lock(self._memory_queue_lock, timeout, where=self._safe_url())

    @contextmanager
    def get_session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error; raises DatabaseError."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise to_database_error(exc, f"using {self._safe_url()}", self.url) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection (call before the process exits or forks)."""
        self.engine.dispose()

    # models

    def add_model(self, **fields: Any) -> dict:
        """Insert a model row; a taken name or a missing field raises DatabaseError."""
        record = ModelRecord(**_check_fields(ModelRecord, fields))
        with self.get_session() as session:
            session.add(record)
            session.flush()
            return record.to_dict()

    def get_model(self, model_id: str) -> dict | None:
        with self.get_session() as session:
            record = session.get(ModelRecord, model_id)
            return record.to_dict() if record else None

    def get_model_by_name(self, name: str) -> dict | None:
        with self.get_session() as session:
            record = session.scalars(select(ModelRecord).where(ModelRecord.name == name)).first()
            return record.to_dict() if record else None

    def list_models(self) -> list[dict]:
        """All models, newest first."""
        stmt = select(ModelRecord).order_by(ModelRecord.created_at.desc(), ModelRecord.id.desc())
        with self.get_session() as session:
            return [record.to_dict() for record in session.scalars(stmt)]

    def update_model(self, model_id: str, **fields: Any) -> dict | None:
        """Set the given fields; None when the model does not exist."""
        return self._update(ModelRecord, model_id, fields)

    def delete_model(self, model_id: str) -> bool:
        """Delete the row (not the files); True when it existed."""
        with self.get_session() as session:
            result = session.execute(delete(ModelRecord).where(ModelRecord.id == model_id))
            return result.rowcount == 1

    # jobs

    def create_job(self, *, config: dict, run_dir: str, job_id: str | None = None, status: str = "queued") -> dict:
        """Insert a job row (``queued`` by default); a taken id raises DatabaseError."""
        fields = _check_fields(TrainingJob, {"config": config, "run_dir": run_dir, "status": status})
        if job_id is not None:
            fields["id"] = job_id
        job = TrainingJob(**fields)
        with self.get_session() as session:
            session.add(job)
            session.flush()
            return job.to_dict()

    def get_job(self, job_id: str) -> dict | None:
        with self.get_session() as session:
            job = session.get(TrainingJob, job_id)
            return job.to_dict() if job else None

    def list_jobs(self, statuses: Iterable[str] | None = None) -> list[dict]:
        """Jobs in queue order (oldest first), optionally only those in ``statuses``."""
        stmt = select(TrainingJob).order_by(TrainingJob.created_at, TrainingJob.id)
        if statuses is not None:
            stmt = stmt.where(TrainingJob.status.in_(list(statuses)))
        with self.get_session() as session:
            return [job.to_dict() for job in session.scalars(stmt)]

    def update_job(self, job_id: str, **fields: Any) -> dict | None:
        """Set the given fields unconditionally; None when the job does not exist."""
        return self._update(TrainingJob, job_id, fields)

    def transition_job(self, job_id: str, from_states: Iterable[str], to_state: str, **fields: Any) -> bool:
        """Atomic conditional update (UPDATE ... WHERE id=? AND status IN (...)); True when a row changed.

        The job queue relies on this being atomic across processes: of several callers moving the
        same job out of the same state, exactly one gets True.
        """
        values = _check_fields(TrainingJob, {**fields, "status": to_state})
        stmt = (
            update(TrainingJob)
            .where(TrainingJob.id == job_id, TrainingJob.status.in_(list(from_states)))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        with self.get_session() as session:
            return session.execute(stmt).rowcount == 1

    def _update(self, table: type[ModelRecord | TrainingJob], row_id: str, fields: dict[str, Any]) -> dict | None:
        values = _check_fields(table, fields)
        if "id" in values:
            raise ConfigurationError("A row's id cannot be changed.", "Leave 'id' out of the update.")
        with self.get_session() as session:
            if values:
                stmt = update(table).where(table.id == row_id).values(**values)
                session.execute(stmt.execution_options(synchronize_session=False))
            row = session.get(table, row_id)
            return row.to_dict() if row else None
