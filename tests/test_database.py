"""DatabaseManager on SQLite and PostgreSQL: CRUD, queue order, atomic transitions, several processes on one
database, tables created once, errors in words (a corrupt SQLite file, a missing driver, an unreachable server)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from modelforge_core.database import JOB_STATES, Base, DatabaseManager, ModelRecord
from modelforge_core.exceptions import ConfigurationError, DatabaseError

MODEL = {"base_model": "org/base", "task": "text-generation", "strategy": "sft", "provider": "huggingface",
         "path": "/models/x", "config": {"lora_r": 8}}


pytestmark = pytest.mark.both_databases  # every test that uses database_url runs on both backends


@pytest.fixture
def db(database_url):
    manager = DatabaseManager(database_url)
    yield manager
    manager.dispose()


def test_creates_parent_folder_and_pragmas(tmp_path):
    db = DatabaseManager(f"sqlite:///{tmp_path / 'db' / 'modelforge.sqlite'}")
    assert (tmp_path / "db" / "modelforge.sqlite").is_file()
    with db.get_session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_pool_has_the_seeds_settings(db):
    assert (db.engine.pool.size(), db.engine.pool._max_overflow, db.engine.pool._pre_ping) == (10, 20, True)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_stores_a_number_json_cannot_hold_as_null(db):
    metrics = {"eval_loss": 1.5, "perplexity": float("inf"), "history": [float("nan"), 2.0]}
    model = db.add_model(name="m", **{**MODEL, "metrics": metrics})
    assert db.get_model(model["id"])["metrics"] == {"eval_loss": 1.5, "perplexity": None, "history": [None, 2.0]}


def test_model_crud(db):
    first = db.add_model(name="first", **MODEL)
    second = db.add_model(name="second", **MODEL, metrics={"eval_loss": 1.5}, job_id="abc")
    assert len(first["id"]) == 12 and first["metrics"] == {} and first["config"] == {"lora_r": 8}
    assert db.get_model(first["id"]) == first
    assert db.get_model_by_name("second")["metrics"] == {"eval_loss": 1.5}
    assert db.get_model("missing") is None and db.get_model_by_name("missing") is None
    assert [m["name"] for m in db.list_models()] == ["second", "first"]  # newest first

    updated = db.update_model(first["id"], name="renamed", metrics={"perplexity": 3.0})
    assert updated["name"] == "renamed" and updated["metrics"] == {"perplexity": 3.0}
    assert db.update_model("missing", name="x") is None

    assert db.delete_model(second["id"]) is True
    assert db.delete_model(second["id"]) is False
    assert [m["id"] for m in db.list_models()] == [first["id"]]


def test_duplicate_name_and_bad_fields(db):
    db.add_model(name="same", **MODEL)
    with pytest.raises(DatabaseError) as info:
        db.add_model(name="same", **MODEL)
    assert "unique" in info.value.message.lower() and "name already taken" in info.value.hint
    with pytest.raises(ConfigurationError, match="colour"):
        db.add_model(name="other", colour="red", **MODEL)
    model = db.add_model(name="other", **MODEL)
    with pytest.raises(ConfigurationError):
        db.update_model(model["id"], id="new-id")


def test_to_dict_is_json_safe(db):
    model = db.add_model(name="m", **MODEL)
    job = db.create_job(config={"model_name": "org/base"}, run_dir="/runs/1")
    job = db.update_job(job["id"], started_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC), pid=123)
    for row in (model, job):
        assert json.loads(json.dumps(row)) == row
    assert datetime.fromisoformat(job["started_at"]) == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert datetime.fromisoformat(model["created_at"]).tzinfo is not None
    assert set(model) == set(ModelRecord.__table__.columns.keys())


def test_times_in_any_zone_are_stored_and_read_back_as_utc(db):
    job = db.create_job(config={}, run_dir="/runs/x")
    two_hours_east = timezone(timedelta(hours=2))
    job = db.update_job(job["id"], started_at=datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=two_hours_east),
                        finished_at="2024-05-01T09:30:00-03:00")
    assert (job["started_at"], job["finished_at"]) == ("2024-05-01T12:00:00.123456+00:00", "2024-05-01T12:30:00+00:00")
    assert db.get_job(job["id"])["started_at"] == job["started_at"]


def test_job_defaults_order_and_filter(db):
    a = db.create_job(config={"n": 1}, run_dir="/runs/a")
    b = db.create_job(config={"n": 2}, run_dir="/runs/b", job_id="job-b")
    c = db.create_job(config={"n": 3}, run_dir="/runs/c", status="running")
    assert b["id"] == "job-b"
    assert a["status"] == "queued" and a["resume"] is False and a["current_step"] == 0
    assert a["pid"] is None and a["finished_at"] is None and a["total_steps"] is None
    assert [j["id"] for j in db.list_jobs()] == [a["id"], b["id"], c["id"]]  # oldest first
    assert [j["id"] for j in db.list_jobs(["queued"])] == [a["id"], b["id"]]
    assert [j["id"] for j in db.list_jobs(s for s in ("running",))] == [c["id"]]
    assert db.list_jobs([]) == []
    assert db.get_job("missing") is None


def test_update_job(db):
    job = db.create_job(config={}, run_dir="/runs/x")
    done = db.update_job(job["id"], status="failed", error_type="TrainingError", error_message="boom",
                         error_hint="see log", current_step=7, total_steps=10, finished_at="2024-01-01T00:00:00+00:00")
    assert (done["status"], done["error_message"], done["current_step"]) == ("failed", "boom", 7)
    assert done["finished_at"] == "2024-01-01T00:00:00+00:00"
    assert db.update_job("missing", current_step=1) is None
    with pytest.raises(ConfigurationError, match="exploded"):
        db.update_job(job["id"], status="exploded")


def test_transition_job_succeeds_once(db):
    job = db.create_job(config={}, run_dir="/runs/x")
    assert db.transition_job(job["id"], ["queued"], "running", pid=42, pid_create_time=1.5) is True
    assert db.transition_job(job["id"], ["queued"], "running", pid=43) is False
    row = db.get_job(job["id"])
    assert (row["status"], row["pid"], row["pid_create_time"]) == ("running", 42, 1.5)
    assert db.transition_job(job["id"], ("running", "stopping"), "completed", finished_at=datetime.now(UTC))
    assert db.transition_job("missing", JOB_STATES, "failed") is False
    with pytest.raises(ConfigurationError):
        db.transition_job(job["id"], ["completed"], "bogus")


def test_transition_job_threads_race(db):
    job = db.create_job(config={}, run_dir="/runs/x")
    barrier, results = threading.Barrier(8), []

    def claim():
        barrier.wait()
        results.append(db.transition_job(job["id"], ["queued"], "running"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def _claim_in_process(url, job_id, start, queue):
    db = DatabaseManager(url)
    start.wait()
    queue.put(db.transition_job(job_id, ["queued"], "running"))
    db.dispose()


def _write_in_process(url, tag, count, queue):
    db = DatabaseManager(url)
    for i in range(count):
        job = db.create_job(config={"tag": tag, "i": i}, run_dir=f"/runs/{tag}-{i}")
        db.update_job(job["id"], current_step=i)
        db.transition_job(job["id"], ["queued"], "running")
    db.dispose()
    queue.put(tag)


def test_transition_job_atomic_across_processes(db, database_url):
    job = db.create_job(config={}, run_dir="/runs/x")
    ctx = multiprocessing.get_context("spawn")
    start, queue = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(database_url, job["id"], start, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sorted(results) == [False, False, False, True]
    assert db.get_job(job["id"])["status"] == "running"


def test_concurrent_writer_processes(db, database_url):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_write_in_process, args=(database_url, f"p{n}", 15, queue)) for n in range(4)]
    for p in procs:
        p.start()
    done = sorted(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert done == ["p0", "p1", "p2", "p3"]
    jobs = db.list_jobs()
    assert len(jobs) == 60 and {j["status"] for j in jobs} == {"running"}


def test_two_managers_on_one_database_interleave(database_url):
    one, two = DatabaseManager(database_url), DatabaseManager(database_url)
    try:
        job = one.create_job(config={}, run_dir="/runs/x")
        assert two.get_job(job["id"])["status"] == "queued"
        assert two.transition_job(job["id"], ["queued"], "running")
        assert not one.transition_job(job["id"], ["queued"], "running")
        one.update_job(job["id"], current_step=3)
        assert two.get_job(job["id"])["current_step"] == 3
        a = one.add_model(name="a", **MODEL)
        b = two.add_model(name="b", **MODEL)
        assert [m["id"] for m in one.list_models()] == [b["id"], a["id"]]
        assert two.delete_model(a["id"]) and one.get_model(a["id"]) is None
    finally:
        one.dispose()
        two.dispose()


def test_session_commits_and_rolls_back(db):
    with db.get_session() as session:
        session.add(ModelRecord(name="kept", **MODEL))
    with pytest.raises(RuntimeError), db.get_session() as session:
        session.add(ModelRecord(name="dropped", **MODEL))
        session.flush()
        raise RuntimeError("boom")
    assert [m["name"] for m in db.list_models()] == ["kept"]
    with pytest.raises(DatabaseError) as info, db.get_session() as session:
        session.execute(text("SELECT * FROM no_such_table"))
    assert isinstance(info.value.__cause__, (OperationalError, ProgrammingError))  # SQLite's and PostgreSQL's word


def test_in_memory_database_is_shared_across_threads():
    db = DatabaseManager("sqlite://")
    job = db.create_job(config={}, run_dir="/runs/x")
    seen = []
    thread = threading.Thread(target=lambda: seen.append(db.get_job(job["id"])))
    thread.start()
    thread.join()
    assert seen[0]["id"] == job["id"]
    db.dispose()


@pytest.mark.parametrize("make_url", [
    lambda tmp: f"sqlite:///{tmp / 'a-file' / 'db.sqlite'}",  # parent is a file
    lambda tmp: "not a database url",
    lambda tmp: "nosuchdialect://user:secret@host/db",
])
def test_unusable_url_raises_database_error(tmp_path, make_url):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(DatabaseError) as info:
        DatabaseManager(make_url(tmp_path))
    assert info.value.hint and "secret" not in info.value.message


def _create_tables_in_process(url, ready, start, queue):
    db = DatabaseManager(url)  # connected (the tables exist still), so that all create them at the same moment
    ready.put(True)
    start.wait()
    try:
        db._create_tables()
        queue.put("created")
    except Exception as exc:  # the parent asserts on what went wrong
        queue.put(repr(exc))
    db.dispose()


def test_processes_that_find_no_tables_at_the_same_moment_create_them_once(db, database_url):
    ctx = multiprocessing.get_context("spawn")
    ready, start, queue = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_create_tables_in_process, args=(database_url, ready, start, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=60)
    Base.metadata.drop_all(db.engine)
    start.set()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert results == ["created"] * 4
    assert db.list_jobs() == [] and db.list_models() == []


def test_a_missing_driver_is_named_with_the_fix():
    with pytest.raises(DatabaseError) as info:
        DatabaseManager("postgresql+pg8000://user:secret@127.0.0.1:5432/modelforge")
    assert "driver" in info.value.message and "not installed" in info.value.message
    assert "postgresql+psycopg://" in info.value.hint and "pip install -r requirements.txt" in info.value.hint
    assert "secret" not in str(info.value)


def test_an_unreachable_server_fails_in_words_without_the_password():
    with pytest.raises(DatabaseError) as info:
        DatabaseManager("postgresql+psycopg://modelforge:secret@127.0.0.1:1/modelforge")
    assert "127.0.0.1:1" in info.value.message and "secret" not in str(info.value)
    assert "is running and reachable" in info.value.hint and "MODELFORGE_DATABASE_URL" in info.value.hint


# -- a corrupt SQLite file is named as such, with the way out -------------------------------------------------


def corrupt_database(home, how: str):
    """The home's database file with rows, then truncated to half, or overwritten with text."""
    path = home / "database" / "modelforge.sqlite"
    db = DatabaseManager(f"sqlite:///{path}")
    for i in range(200):
        db.create_job(config={"padding": "x" * 500}, run_dir=f"/runs/{i}")
    db.dispose()  # the last connection checkpoints the WAL into the file
    if how == "truncated":
        with open(path, "r+b") as handle:
            handle.truncate(path.stat().st_size // 2)
    else:
        path.write_bytes(b"these bytes are not a database\n" * 100)
    return path


CORRUPT_WORDS = {"truncated": "database disk image is malformed", "garbage": "file is not a database"}


def assert_names_the_corrupt_file(message: str, hint: str, path, how: str) -> None:
    assert message == f"The database file {path} is corrupt ({CORRUPT_WORDS[how]}).", message
    assert f"rename it to {path.name}.corrupt" in hint and "start again" in hint
    assert "python -m modelforge_core models rescan` rebuilds the model registry from the model folders" in hint
    assert "writable" not in hint


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_corrupt_database_file_is_named_with_the_way_out(tmp_path, how):
    path = corrupt_database(tmp_path / "home", how)
    with pytest.raises(DatabaseError) as info:
        DatabaseManager(f"sqlite:///{path}")
    assert_names_the_corrupt_file(info.value.message, info.value.hint, path, how)


def _home_env(home) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "MODELFORGE_DATABASE_URL"}
    return {**env, "MODELFORGE_HOME": str(home), "HF_HUB_OFFLINE": "1"}


def test_the_cli_and_the_app_name_a_corrupt_database_and_exit_2(tmp_path):
    from app_server import free_port
    from conftest import REPO_ROOT

    home = tmp_path / "home"
    path = corrupt_database(home, "truncated")
    commands = {
        "cli": [sys.executable, "-m", "modelforge_core", "models", "list"],
        "app": [sys.executable, "app.py", "--data-dir", str(home), "--port", str(free_port())],
    }
    for name, command in commands.items():
        done = subprocess.run(command, cwd=REPO_ROOT, env=_home_env(home), capture_output=True, text=True, timeout=180)
        assert done.returncode == 2, (name, done.stdout[-2000:], done.stderr[-2000:])
        error = next(line for line in done.stderr.splitlines() if line.startswith("error"))
        hint = next(line for line in done.stderr.splitlines() if line.startswith("hint: "))
        assert "Traceback" not in done.stderr, (name, done.stderr[-2000:])
        assert_names_the_corrupt_file(error.split(": ", 1)[1], hint.removeprefix("hint: "), path, "truncated")
