"""The job queue's lock lives with the database: processes that share only the database (two apps on two
data folders) take turns advancing the queue, and run one job at a time."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from modelforge_core.database import DatabaseManager
from modelforge_core.exceptions import DatabaseError

from conftest import REPO_ROOT

pytestmark = pytest.mark.both_databases


@pytest.fixture
def db(database_url):
    manager = DatabaseManager(database_url)
    yield manager
    manager.dispose()


def test_a_held_lock_makes_another_holder_wait_then_fail_in_words(db, database_url):
    other = DatabaseManager(database_url)
    try:
        with db.queue_lock():
            started = time.monotonic()
            with pytest.raises(DatabaseError) as info, other.queue_lock(timeout=0.5):
                pass
            assert time.monotonic() - started >= 0.4, "it waited for the holder before giving up"
        assert info.value.message.startswith("Timed out after 0.5 s waiting for the job queue lock (")
        assert "Another ModelForge app or CLI using this database" in info.value.hint
        assert "modelforge:modelforge@" not in info.value.message, "the password stays hidden"
        with other.queue_lock(timeout=5):  # released: the other one gets it at once
            pass
    finally:
        other.dispose()


def test_the_lock_is_released_when_the_holder_raises(db):
    with pytest.raises(RuntimeError), db.queue_lock():
        raise RuntimeError("boom")
    with db.queue_lock(timeout=5):
        pass


def test_threads_of_one_process_take_turns(db):
    inside, overlaps = [], []

    def hold():
        for _ in range(5):
            with db.queue_lock(timeout=30):
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(len(inside))
                time.sleep(0.01)
                inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert overlaps == []


def _hold_lock_in_process(url, held, release):
    db = DatabaseManager(url)
    with db.queue_lock():
        held.set()
        release.wait(60)
    db.dispose()


def test_another_process_holding_the_lock_excludes_this_one(db, database_url):
    ctx = multiprocessing.get_context("spawn")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock_in_process, args=(database_url, held, release))
    holder.start()
    try:
        assert held.wait(60), "the other process took the lock"
        with pytest.raises(DatabaseError, match="Timed out after 0.3 s"), db.queue_lock(timeout=0.3):
            pass
    finally:
        release.set()
        holder.join(timeout=60)
    with db.queue_lock(timeout=10):
        pass


def test_a_service_leaves_the_queued_jobs_of_another_data_folder_to_that_app(db, tmp_path):
    from modelforge_core.services.training_service import TrainingService
    from modelforge_core.settings import Settings

    here, there = Settings(home=tmp_path / "here"), Settings(home=tmp_path / "there").ensure_dirs()
    theirs = db.create_job(config={}, run_dir=str(there.runs_dir / "theirs"))
    service = TrainingService(db, here)  # it dispatches as it starts
    service.dispatch()
    service.close()
    assert db.get_job(theirs["id"])["status"] == "queued", "its worker would need the other app's run folder"


# -- two apps, two data folders, one PostgreSQL database ------------------------------------------------------


def _train_in_app(home, database_url: str, config: dict) -> subprocess.Popen:
    """``python -m modelforge_core train`` as an app of its own: its data folder, the shared database."""
    home.mkdir(parents=True)
    config_path = home / "config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    env = {**os.environ, "MODELFORGE_HOME": str(home), "MODELFORGE_DATABASE_URL": database_url, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "modelforge_core", "train", "--config", str(config_path)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _watch_active_jobs(db: DatabaseManager, apps: list[subprocess.Popen], timeout: float) -> int:
    """Poll the shared database until both apps exit; the most jobs seen running at one moment."""
    most, deadline = 0, time.monotonic() + timeout
    while any(app.poll() is None for app in apps):
        assert time.monotonic() < deadline, f"the apps did not finish within {timeout:g} s"
        most = max(most, len(db.list_jobs(["running", "stopping"])))
        time.sleep(0.1)
    return most


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_apps_on_two_data_folders_sharing_one_database_run_one_job_at_a_time(
    db, database_url, make_config, samples, tmp_path
):
    rows = Path(samples["sft"]).read_text(encoding="utf-8").splitlines()[:24]  # a short job: little to tokenize
    dataset = tmp_path / "short.jsonl"
    dataset.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = make_config(dataset=str(dataset), max_steps=3, eval_split=0.0, logging_steps=1, save_steps=100)
    homes = [tmp_path / "app-a", tmp_path / "app-b"]
    apps = [_train_in_app(home, database_url, config) for home in homes]
    try:
        most_running = _watch_active_jobs(db, apps, timeout=480)
    finally:
        for app in apps:
            if app.poll() is None:
                app.kill()
    outputs = [app.communicate()[0] for app in apps]
    assert [app.returncode for app in apps] == [0, 0], outputs
    assert most_running == 1, "never two jobs running at once"

    jobs = db.list_jobs()
    assert [job["status"] for job in jobs] == ["completed", "completed"], jobs
    run_folders = sorted(Path(job["run_dir"]).parent for job in jobs)
    assert run_folders == [(home / "runs").resolve() for home in homes], "each app ran its own job, in its own folder"
    first, second = sorted(jobs, key=lambda job: job["started_at"])
    assert datetime.fromisoformat(first["finished_at"]) <= datetime.fromisoformat(second["started_at"]), jobs
