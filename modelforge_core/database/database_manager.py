"""``DatabaseManager``: the one door to the registry database (SQLite by default, any SQLAlchemy URL).

Several processes (the app, the CLI, training workers) share one SQLite file: connections use WAL
mode and a 30 s busy timeout, and job state changes go through :meth:`DatabaseManager.transition_job`,
a single conditional UPDATE. Every SQLAlchemy error surfaces as :class:`DatabaseError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from ..exceptions import ConfigurationError, DatabaseError
from .models import JOB_STATES, Base, ModelRecord, TrainingJob

BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; avoids an fsync per commit
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _to_database_error(exc: Exception, action: str) -> DatabaseError:
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    if isinstance(exc, IntegrityError):
        hint = "A value conflicts with an existing row (for example a name already taken) or is missing."
    elif "locked" in detail.lower() or "busy" in detail.lower():
        hint = "Another ModelForge process is holding the database; try again in a moment."
    else:
        hint = None
    return DatabaseError(f"Database error while {action}: {detail}", hint)


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
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise DatabaseError(
                f"Cannot open the database at {self._safe_url()!r}: {exc}",
                "Check MODELFORGE_DATABASE_URL (e.g. sqlite:////path/to/file.sqlite) and that its folder is writable.",
            ) from exc
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        try:
            self._create_tables()
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise _to_database_error(exc, f"creating the tables in {self._safe_url()}") from exc

    @staticmethod
    def _create_engine(url: str) -> Engine:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return create_engine(parsed, pool_size=10, max_overflow=20, pool_pre_ping=True)
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
        for attempt in range(3):
            try:
                Base.metadata.create_all(self.engine)
                return
            except OperationalError as exc:  # another process created them between check and CREATE
                if "already exists" not in str(exc) or attempt == 2:
                    raise

    def _safe_url(self) -> str:
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except (SQLAlchemyError, ValueError):
            return self.url

    @contextmanager
    def get_session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error; raises DatabaseError."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise _to_database_error(exc, f"using {self._safe_url()}") from exc
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
