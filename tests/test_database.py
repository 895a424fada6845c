"""DatabaseManager: CRUD, queue order, atomic transitions, several processes on one SQLite file."""

from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from modelforge_core.database import JOB_STATES, DatabaseManager, ModelRecord
from modelforge_core.exceptions import ConfigurationError, DatabaseError

MODEL = {"base_model": "org/base", "task": "text-generation", "strategy": "sft", "provider": "huggingface",
         "path": "/models/x", "config": {"lora_r": 8}}


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'db' / 'modelforge.sqlite'}"


@pytest.fixture
def db(db_url):
    manager = DatabaseManager(db_url)
    yield manager
    manager.dispose()


def test_creates_parent_folder_and_pragmas(tmp_path, db):
    assert (tmp_path / "db" / "modelforge.sqlite").is_file()
    with db.get_session() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


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
    assert "UNIQUE" in info.value.message and info.value.hint
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


def test_transition_job_atomic_across_processes(db, db_url):
    job = db.create_job(config={}, run_dir="/runs/x")
    ctx = multiprocessing.get_context("spawn")
    start, queue = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(db_url, job["id"], start, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sorted(results) == [False, False, False, True]
    assert db.get_job(job["id"])["status"] == "running"


def test_concurrent_writer_processes(db, db_url):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_write_in_process, args=(db_url, f"p{n}", 15, queue)) for n in range(4)]
    for p in procs:
        p.start()
    done = sorted(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert done == ["p0", "p1", "p2", "p3"]
    jobs = db.list_jobs()
    assert len(jobs) == 60 and {j["status"] for j in jobs} == {"running"}


def test_two_managers_on_one_file_interleave(db_url):
    one, two = DatabaseManager(db_url), DatabaseManager(db_url)
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
    assert isinstance(info.value.__cause__, OperationalError)


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
