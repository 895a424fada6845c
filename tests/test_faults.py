"""Faults during a run: a full disk, half-written checkpoints, a diverging loss, failed submits, dead workers.

Each ends with the job in a final state, in words, and nothing half-written or registered.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from modelforge_core.exceptions import ConfigurationError, DatabaseError, TrainingError
from modelforge_core.training.run_files import RunFiles

from jobs_helpers import run_to_end, wait_for_status

FINAL = ("completed", "failed", "stopped", "interrupted")


def _run_folders(settings) -> list[Path]:
    """The run folders under runs/ (not the queue's lock file)."""
    return [path for path in settings.runs_dir.iterdir() if path.is_dir()]


def _checkpoint(folder: Path, step: int, complete: bool = True) -> Path:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "adapter_model.safetensors").write_bytes(b"weights")
    if complete:
        (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return path


# -- checkpoints are complete or absent ---------------------------------------------------------


def test_only_complete_checkpoints_count(tmp_path):
    run = RunFiles(tmp_path / "run")
    _checkpoint(run.checkpoints, 5)
    _checkpoint(run.checkpoints, 10)
    _checkpoint(run.checkpoints, 15, complete=False)  # the save stopped before trainer_state.json
    cut = _checkpoint(run.checkpoints, 20, complete=False)
    (cut / "trainer_state.json").write_text('{"global_st')  # cut short by a full disk
    assert run.last_checkpoint() == run.checkpoints / "checkpoint-10"
    problems = {path.name: problem for path, problem in run.incomplete_checkpoints().items()}
    assert problems == {
        "checkpoint-15": "it has no trainer_state.json (the save did not finish)",
        "checkpoint-20": "its trainer_state.json is cut short or unreadable",
    }


def _fail_second_checkpoint_save(monkeypatch):
    """The trainer's second checkpoint save writes its weights, then hits a full disk."""
    from transformers import Trainer

    original, saves = Trainer._save_checkpoint, []

    def save(self, model, trial):
        saves.append(self.state.global_step)
        if len(saves) == 2:
            folder = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "adapter_model.safetensors").write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device", str(folder / "optimizer.pt"))
        return original(self, model, trial)

    monkeypatch.setattr(Trainer, "_save_checkpoint", save)
    return saves


def test_a_write_error_at_a_checkpoint_save_fails_in_words_and_resume_takes_the_last_complete_one(
    services, make_config, settings, monkeypatch
):
    from modelforge_core import worker

    training, models, db = services
    config = training.validate(make_config(max_steps=12, save_steps=5, logging_steps=1, eval_split=0.0))
    job_id = uuid.uuid4().hex[:12]
    run = RunFiles(settings.runs_dir / job_id)
    run.root.mkdir(parents=True)
    run.config.write_text(config.model_dump_json(), encoding="utf-8")
    db.create_job(job_id=job_id, config=config.to_json_dict(), run_dir=str(run.root), status="running")
    saves = _fail_second_checkpoint_save(monkeypatch)
    monkeypatch.setattr(worker, "_request_stop_on_signal", lambda run: None)  # the worker runs in this process here

    assert worker.run_job(job_id) == worker.EXIT_FAILED
    job = training.get_job(job_id)
    assert saves == [5, 10] and job["status"] == "failed", job
    assert "is full while training" in job["error_message"] and "free" in job["error_message"], job
    assert "resumes from its last complete checkpoint" in job["error_hint"]
    assert [p.name for p in run.checkpoint_folders()] == ["checkpoint-5"], "the half-written checkpoint is removed"
    assert models.list_models() == []

    monkeypatch.undo()
    half = run.checkpoints / "checkpoint-10"
    shutil.copytree(run.checkpoints / "checkpoint-5", half)
    (half / "trainer_state.json").unlink()  # what a save cut off by a kill leaves: resume must skip it too
    training.resume(job_id)
    events = run_to_end(training, job_id)
    assert training.get_job(job_id)["status"] == "completed"
    messages = [e.get("message") or "" for e in events]
    assert any("checkpoint-10 is incomplete (it has no trainer_state.json" in text for text in messages), messages
    assert "Resuming from checkpoint-5 (the newest complete checkpoint)" in messages, messages
    resumed = [e for e in events if e["type"] == "train" and e["time"] > events[messages.index(
        "Resuming from checkpoint-5 (the newest complete checkpoint)")]["time"]]
    assert resumed[0]["step"] == 6, "training goes on from the complete checkpoint's step"


# -- a full disk for real: a small tmpfs --------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MB tmpfs (skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Write zeros until the disk is full; returns the filler file."""
    filler = folder / "filler"
    chunk = b"\0" * (256 * 1024)
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with open(folder / "filler-2", "wb", buffering=0) as handle:  # the last few bytes
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def test_a_full_disk_during_a_run_fails_in_words_and_resumes_once_space_is_back(small_disk, monkeypatch, make_config):
    from modelforge_core.database.database_manager import DatabaseManager
    from modelforge_core.services.training_service import TrainingService
    from modelforge_core.services.worker_process import kill_process, process_alive
    from modelforge_core.settings import Settings

    home = small_disk / "home"
    monkeypatch.setenv("MODELFORGE_HOME", str(home))
    monkeypatch.delenv("MODELFORGE_DATABASE_URL", raising=False)
    settings = Settings(home=home).ensure_dirs()
    db = DatabaseManager(settings.database_url)
    training = TrainingService(db, settings)
    try:
        job = training.submit(make_config(max_steps=20, save_steps=5, logging_steps=1, eval_split=0.0))
        run = RunFiles(Path(job["run_dir"]))
        deadline = time.monotonic() + 300
        while run.last_checkpoint() is None and time.monotonic() < deadline:
            training.dispatch()
            time.sleep(0.2)
        assert run.last_checkpoint() is not None, training.get_job(job["id"])
        _fill(small_disk)
        pid = training.get_job(job["id"])["pid"]
        deadline = time.monotonic() + 300
        while process_alive(pid, None) and time.monotonic() < deadline:
            training.dispatch()  # a full database: logged once, retried
            time.sleep(0.2)
        assert not process_alive(pid, None), "the worker stops at the full disk"
        for filler in small_disk.glob("filler*"):
            filler.unlink()
        failed = wait_for_status(training, job["id"], FINAL, timeout=60)
        assert failed["status"] == "failed", failed
        assert "is full" in failed["error_message"] and "MODELFORGE_HOME" in failed["error_hint"], failed
        assert not run.incomplete_checkpoints(), "no half-written checkpoint is left"
        kept = run.last_checkpoint()

        training.resume(job["id"])
        events = run_to_end(training, job["id"], timeout=600)
        done = training.get_job(job["id"])
        assert done["status"] == "completed", done
        assert any(e.get("message") == f"Resuming from {kept.name} (the newest complete checkpoint)" for e in events)
    finally:
        training.close()
        for row in db.list_jobs(["running", "stopping"]):
            kill_process(row["pid"], row["pid_create_time"])
        db.dispose()


# -- divergence ---------------------------------------------------------------------------------


def test_a_nan_loss_fails_the_job_in_words_and_registers_nothing(services, make_config, settings):
    training, models, _ = services
    job = training.submit(make_config(learning_rate=1e9, max_steps=40, logging_steps=1, eval_steps=20))
    events = run_to_end(training, job["id"])
    job = training.get_job(job["id"])
    assert job["status"] == "failed", job
    assert " became NaN at step " in job["error_message"] or " became infinite at step " in job["error_message"], job
    assert "Lower the learning rate (now 1e+09)" in job["error_message"], job
    assert "usual learning rates are 1e-05 to 0.001 for LoRA fine-tuning" in job["error_hint"]
    assert models.list_models() == [] and not any(settings.models_dir.iterdir()), "nothing is registered or saved"
    warnings = [e["message"] for e in events if e["type"] == "log" and e.get("level") == "warning"]
    assert any("far above the usual range" in text for text in warnings), "warned before the run started"
    steps = [e["step"] for e in events if e["type"] == "train"]
    assert max(steps) < 40, "the run stops at the divergence"


def test_learning_rates_far_outside_the_usual_range_are_warned_about():
    from modelforge_core.schemas import parse_training_config
    from modelforge_core.schemas.learning_rates import learning_rate_warning

    def warning(**fields):
        return learning_rate_warning(parse_training_config({"model_name": "m", "dataset": "d", **fields}))

    assert warning(learning_rate=2e-4) is None and warning(learning_rate=3e-3) is None
    assert "far above the usual range (1e-05 to 0.001 for LoRA fine-tuning)" in warning(learning_rate=1e9)
    assert "far below" in warning(learning_rate=1e-8)
    assert "1e-06 to 0.0001 for full fine-tuning" in warning(learning_rate=5e-3, finetuning_type="full")
    assert "DPO with LoRA" in warning(learning_rate=0.5, strategy="dpo")


# -- submits ------------------------------------------------------------------------------------


@pytest.mark.both_databases
def test_a_failed_submit_leaves_no_run_folder_and_no_row(services, make_config, settings, monkeypatch):
    training, _, db = services

    def refuse(**_fields):
        raise DatabaseError("Database error while using the database: disk I/O error")

    monkeypatch.setattr(db, "create_job", refuse)
    with pytest.raises(DatabaseError):
        training.submit(make_config())
    assert _run_folders(settings) == [] and db.list_jobs() == []

    from modelforge_core.training.events import EventLog

    def full(self, *_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(EventLog, "write", full)
    with pytest.raises(TrainingError, match="is full while creating the job"):
        training.submit(make_config())
    assert _run_folders(settings) == [] and db.list_jobs() == []


def test_too_little_disk_space_is_refused_before_the_run_and_tight_space_is_warned(services, make_config, settings, monkeypatch):
    from modelforge_core.services import disk_need

    training, _, db = services
    monkeypatch.setattr(disk_need, "free_bytes", lambda _path: 5 * 1024**2)
    with pytest.raises(TrainingError, match=r"Not enough disk space for this run: it writes about \d+ MB .* has 5 MB free"):
        training.submit(make_config())
    assert _run_folders(settings) == [] and db.list_jobs() == []

    need = disk_need.run_disk_need(training.validate(make_config()))
    monkeypatch.setattr(disk_need, "free_bytes", lambda _path: int(need * 1.5))
    monkeypatch.setattr(training, "dispatch", lambda: None)  # keep it queued: only its log matters here
    job = training.submit(make_config())
    assert any("Disk space is tight" in (e.get("message") or "") for e in training.events(job["id"]))


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, words",
    [
        ("../../../../tmp/x", "cannot contain a path separator (/)"),
        ("..\\x", "cannot contain a path separator (\\)"),
        ("a..b", "cannot contain '..'"),
        ("x" * 300, "at most 96 characters; this one has 300"),
        ("-rf", "starting with a letter or a digit"),
        ("name<script>", "not '<' '>'"),
    ],
)
def test_bad_model_names_are_refused_before_any_work(services, make_config, settings, name, words):
    training, models, db = services
    with pytest.raises(ConfigurationError, match="output_name") as raised:
        training.submit(make_config(output_name=name))
    assert words in raised.value.message
    assert _run_folders(settings) == [] and db.list_jobs() == []
    with pytest.raises(ConfigurationError) as raised:
        models.register_model(name=name, base_model="b", task="text-generation", strategy="sft", provider="huggingface",
                              path=settings.models_dir, config={}, metrics={})
    assert words in raised.value.message


def test_rename_refuses_a_path_and_keeps_the_name(services, settings):
    _, models, _ = services
    folder = settings.models_dir / "m1"
    folder.mkdir()
    model = models.register_model(name="good-name", base_model="b", task="text-generation", strategy="sft",
                                  provider="huggingface", path=folder, config={}, metrics={})
    with pytest.raises(ConfigurationError, match="cannot contain a path separator"):
        models.rename_model(model["id"], "../../etc/x")
    assert models.get_model(model["id"])["name"] == "good-name"
    assert models.rename_model(model["id"], "  My model v2.1  ")["name"] == "My model v2.1"


def test_a_default_name_from_an_odd_folder_name_is_valid(make_config):
    from modelforge_core.schemas import parse_training_config

    config = parse_training_config(make_config(model_name="/models/my model (v2)"))
    assert config.run_name == "my-model-v2-sft"


# -- dead workers -------------------------------------------------------------------------------


def test_a_dead_worker_is_described_from_the_evidence(tmp_path):
    from modelforge_core.services.worker_death import describe_worker_end
    from modelforge_core.services.worker_process import EXIT_DISK_FULL

    log_path = tmp_path / "worker.log"
    log_path.write_text("Traceback (most recent call last):\n  ...\nValueError: something broke\n")
    by_hand = describe_worker_end(-9, 999_999_999, tmp_path, log_path)
    assert by_hand.status == "interrupted" and "killed by SIGKILL" in by_hand.message
    assert "out-of-memory killer" not in by_hand.message and "no sign of running out of memory" in by_hand.message
    low = describe_worker_end(-9, 999_999_999, tmp_path, log_path, lowest_available=0.01)
    assert "by the out-of-memory killer: free memory had fallen to 1.0% of the RAM" in low.message
    full = describe_worker_end(EXIT_DISK_FULL, 1, tmp_path, log_path)
    assert full.status == "failed" and "is full" in full.message
    crashed = describe_worker_end(1, 1, tmp_path, log_path)
    assert crashed.status == "failed" and "exited (code 1)" in crashed.message and "ValueError: something broke" in crashed.message


def test_the_kernel_oom_record_names_the_pid(tmp_path):
    from modelforge_core.hardware.oom import kernel_oom_record

    kmsg = tmp_path / "kmsg"
    kmsg.write_text("3,1234,5678,-;Out of memory: Killed process 4242 (python) total-vm:9000kB, anon-rss:8000kB\n")
    assert "Killed process 4242 (python)" in kernel_oom_record(4242, kmsg=str(kmsg))
    assert kernel_oom_record(42, kmsg=str(kmsg)) is None


def test_a_dispatcher_that_keeps_failing_logs_once_and_backs_off(services, monkeypatch, caplog):
    training, _, _ = services
    calls = []

    def broken():
        calls.append(time.monotonic())
        raise DatabaseError("Database error while using the database: disk I/O error")

    monkeypatch.setattr(training, "dispatch", broken)
    with caplog.at_level(logging.INFO, logger="modelforge"):
        training._dispatcher = None
        training.start_background_dispatch(interval=0.01)
        deadline = time.monotonic() + 60
        while len(calls) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        training.close()
    assert len(calls) >= 6
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert gaps[-1] > 4 * gaps[0], f"the retries come less and less often: {gaps}"
    failures = [r for r in caplog.records if "dispatch failed" in r.getMessage()]
    assert len(failures) == 1, "one traceback, not one per round"


@pytest.mark.both_databases
def test_the_jobs_list_gives_each_queued_job_its_place(services, make_config, settings):
    training, _, db = services
    config = training.validate(make_config()).to_json_dict()
    running = db.create_job(config=config, run_dir=str(settings.runs_dir / "a"), status="running")
    db.update_job(running["id"], pid=os.getpid())  # a live process: the queue waits behind it
    first = db.create_job(config=config, run_dir=str(settings.runs_dir / "b"))
    second = db.create_job(config=config, run_dir=str(settings.runs_dir / "c"))
    places = {job["id"]: job["queue_position"] for job in training.list_jobs()}
    assert places == {running["id"]: None, first["id"]: 1, second["id"]: 2}
    assert [job["queue_position"] for job in training.list_jobs(["queued"])] == [1, 2]
    db.update_job(running["id"], status="completed", pid=None)  # the fixture's clean-up kills running jobs' pids


def test_the_estimate_next_to_start_warns_about_a_far_learning_rate(make_config, settings):
    from modelforge_core.schemas import parse_training_config
    from modelforge_core.services.hardware_service import HardwareService
    from ui.memory_estimate import estimate_markdown

    service = HardwareService(settings.home)
    usual = service.estimate(parse_training_config(make_config()))
    assert usual["warnings"] == [] and "⚠️ The learning rate" not in estimate_markdown(usual)
    far = service.estimate(parse_training_config(make_config(learning_rate=1e9)))
    assert "⚠️ The learning rate 1e+09 is far above the usual range" in estimate_markdown(far)
