"""The training process: one job, start to finish. ``python -m modelforge_core.worker <job_id>``.

Several processes train one job when ``accelerate launch`` starts this module once per process
(``training/launch.py``); rank 0 records the job, the others only train.

It runs apart from the app, so that a crash, an out-of-memory error or a stop cannot take the app
down. It ends the job row itself (completed, failed, stopped); a worker that dies without doing so
is found by the training service and marked interrupted.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from .database.database_manager import DatabaseManager
from .database.models import ACTIVE_JOB_STATES
from .disk import disk_full_error, is_disk_full
from .exceptions import DatabaseError, ModelForgeException, TrainingError
from .files import write_text_atomic
from .hardware.oom import is_out_of_memory, out_of_memory_error
from .logging_config import get_logger, setup_logging
from .schemas import TrainingConfig
from .services.model_service import ModelService
from .services.worker_process import EXIT_DISK_FULL, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .settings import get_settings
from .training.distributed import is_main_process, rank, world_size
from .training.events import EventLog, SilentEventLog
from .training.job_clock import JobClock
from .training.oom_recovery import train_with_recovery
from .training.run_files import RunFiles

log = get_logger("worker")
PROGRESS_DB_INTERVAL_S = 2.0


def _now() -> datetime:
    return datetime.now(UTC)


def _request_stop_on_signal(run: RunFiles) -> None:
    """SIGTERM / SIGINT become a clean stop request, exactly like the service's stop()."""

    def handler(signum, frame):  # noqa: ARG001
        run.stop_request.touch()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _progress_writer(db: DatabaseManager, job_id: str):
    last = [0.0]

    def write(step: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_DB_INTERVAL_S or (total and step >= total):
            last[0] = now
            db.update_job(job_id, current_step=step, total_steps=total)

    return write


def _fail(db: DatabaseManager, events: EventLog, job_id: str, error: ModelForgeException) -> bool:
    """Record the failure (the end event, then the job row); False when the row could not be written."""
    try:
        events.write("end", status="failed", error=error.to_dict())
    except OSError as exc:  # a full disk: the job row below is what counts
        log.warning("end event not written", extra={"fields": {"job_id": job_id, "error": str(exc)}})
    try:
        db.transition_job(
            job_id, ACTIVE_JOB_STATES, "failed", finished_at=_now(),
            error_type=type(error).__name__, error_message=error.message, error_hint=error.hint,
        )
    except DatabaseError as exc:
        log.error("job failure not recorded", extra={"fields": {"job_id": job_id, "error": str(exc)}})
        return False
    return True


def _failed(db: DatabaseManager, events: EventLog, job_id: str, error: ModelForgeException, disk_full: bool) -> int:
    """Record the failure; the exit code tells the service what it must record itself when the row could not be written."""
    log.error("job failed", extra={"fields": {"job_id": job_id, "error": str(error)}})
    if _fail(db, events, job_id, error):
        return EXIT_FAILED
    return EXIT_DISK_FULL if disk_full else EXIT_FAILED


def _import_unsloth_first(config: TrainingConfig) -> None:
    """Unsloth patches transformers, TRL and PEFT when it is imported, so it must come before them.

    A failure is left to the provider, which turns it into a clear ProviderError.
    """
    if config.provider != "unsloth":
        return
    try:
        import unsloth  # noqa: F401
    except Exception as exc:  # unsloth raises many kinds of errors on unsupported setups
        log.warning("unsloth import failed", extra={"fields": {"error": str(exc)}})


def run_job(job_id: str, run_dir: Path | None = None) -> int:
    """Run the job; returns the process exit code (0 completed or stopped, 1 failed).

    One of several processes (``accelerate launch``): every process trains, only the main one (rank 0)
    writes events, the job row and the registry row (``_follower``). ``run_dir``: this machine's run
    folder, where it is not the job's own (a machine other than machine 0).
    """
    settings = get_settings().ensure_dirs()
    db = DatabaseManager(settings.database_url)
    job = db.get_job(job_id)
    if job is None:
        log.error("unknown job", extra={"fields": {"job_id": job_id}})
        return EXIT_USAGE
    run = RunFiles(Path(run_dir or job["run_dir"]))
    if not is_main_process():  # its own staging name: on another machine sharing the data folder it must not meet rank 0's
        return _follower(job, run, settings.models_dir / f"{job_id}.rank{rank()}")
    events = EventLog(run.events)
    _request_stop_on_signal(run)
    output_dir = settings.models_dir / job_id
    try:
        config = TrainingConfig.model_validate_json(run.config.read_text(encoding="utf-8"))
        if run.stop_request.exists() and world_size() == 1:  # several processes decide together, at the first step
            raise _StoppedBeforeStart()
        _import_unsloth_first(config)
        from .training.pipeline import run_training

        if world_size() > 1:
            events.log(f"Training on {world_size()} processes ({config.distributed}); this is the main one.")

        def train(config: TrainingConfig, resume: bool, recovered: list[dict]):
            return run_training(
                config, run, events, output_dir, resume=resume, on_progress=_progress_writer(db, job_id),
                clock=JobClock.from_events(events.read_all()), recovered=recovered,
            )

        result, config, _ = train_with_recovery(
            config, train, events, resume=bool(job.get("resume")), processes=world_size(),
            has_checkpoint=lambda: getattr(run.last_checkpoint(), "name", None),
            on_new_config=lambda lighter: _record_config(db, job_id, run, lighter),
        )
    except _StoppedBeforeStart:
        events.write("end", status="stopped", message="Stopped before training started.")
        db.transition_job(job_id, ACTIVE_JOB_STATES, "stopped", finished_at=_now())
        return EXIT_OK
    except Exception as exc:  # a user error in words; anything else a training error, its traceback in worker.log
        if not isinstance(exc, ModelForgeException):
            _print_traceback()
        disk_full = is_disk_full(exc)
        if disk_full:
            _free_what_failed(run, events)
        return _failed(db, events, job_id, _as_modelforge_error(exc, run, settings.home, disk_full), disk_full)

    if result.status == "stopped":
        events.write("end", status="stopped", message=f"Stopped at step {result.metrics.get('steps')}; checkpoint kept.")
        db.transition_job(job_id, ACTIVE_JOB_STATES, "stopped", finished_at=_now())
        return EXIT_OK
    return _register(db, settings, events, job_id, config, result)


def _record_config(db: DatabaseManager, job_id: str, run: RunFiles, config: TrainingConfig) -> None:
    """The job's config from now on (out-of-memory recovery's lighter one): the run folder's copy, which a
    resume reads, and the job row's."""
    write_text_atomic(run.config, config.model_dump_json(indent=2))
    db.update_job(job_id, config=config.to_json_dict())


def _follower(job: dict, run: RunFiles, output_dir: Path) -> int:
    """A process other than the main one: it trains its share and writes nothing of the job's record.

    A stop before the start is the main process's to record; an error goes to worker.log (the launcher
    then ends the other processes, and the main one, or the service, records the failure).
    """
    _request_stop_on_signal(run)
    try:
        config = TrainingConfig.model_validate_json(run.config.read_text(encoding="utf-8"))
        _import_unsloth_first(config)
        from .training.pipeline import run_training

        run_training(config, run, SilentEventLog(run.events), output_dir, resume=bool(job.get("resume")))
    except Exception:
        log.error("training failed on this process", extra={"fields": {"job_id": job["id"], "rank": rank()}})
        _print_traceback()
        return EXIT_FAILED
    return EXIT_OK


def _register(db, settings, events: EventLog, job_id: str, config: TrainingConfig, result) -> int:
    try:
        model = ModelService(db, settings).register_model(
            name=config.run_name,
            base_model=config.model_name,
            task=config.task,
            strategy=config.strategy,
            provider=config.provider,
            path=result.output_dir,
            config=config.to_json_dict(),
            metrics=result.metrics,
            job_id=job_id,
        )
    except ModelForgeException as exc:
        shutil.rmtree(result.output_dir, ignore_errors=True)
        disk_full = is_disk_full(exc)
        return _failed(db, events, job_id, disk_full_error(settings.home) if disk_full else exc, disk_full)
    try:
        events.write("end", status="completed", model_id=model["id"], model_name=model["name"], metrics=result.metrics)
    except OSError as exc:
        log.warning("end event not written", extra={"fields": {"job_id": job_id, "error": str(exc)}})
    db.transition_job(job_id, ACTIVE_JOB_STATES, "completed", finished_at=_now(), model_id=model["id"])
    return EXIT_OK


class _StoppedBeforeStart(Exception):
    pass


def _print_traceback() -> None:
    """The traceback into worker.log; on a full disk that write fails too, and the job's end matters more."""
    try:
        traceback.print_exc()
        sys.stdout.flush()
    except OSError:
        pass


def _flush_or_drop_output() -> None:
    """Flush worker.log; if the disk refuses, drop what is left, so that the exit code stays the one chosen
    (Python exits 120 when it cannot flush stdout at shutdown)."""
    for name in ("stdout", "stderr"):
        try:
            getattr(sys, name).flush()
        except (OSError, ValueError):
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115 - lives until the process ends


def _free_what_failed(run: RunFiles, events: EventLog) -> None:
    """After a full disk: remove the half-written checkpoints (they are never resumed from), freeing their space."""
    for folder, problem in run.incomplete_checkpoints().items():
        shutil.rmtree(folder, ignore_errors=True)
        try:
            events.log(f"{folder.name} was half-written ({problem}) and is removed.", level="warning")
        except OSError:
            pass


def _as_modelforge_error(exc: Exception, run: RunFiles, home: Path, disk_full: bool) -> ModelForgeException:
    if disk_full:
        return disk_full_error(home)
    if isinstance(exc, ModelForgeException):
        return exc
    if is_out_of_memory(exc):
        return out_of_memory_error(exc, _memory_suggestions(run))
    return TrainingError(f"Training failed: {type(exc).__name__}: {exc}", f"The full traceback is in {run.log}.")


def _memory_suggestions(run: RunFiles) -> list[dict]:
    """The estimator's changes for this job's config on this machine; [] if it cannot say."""
    try:
        from .services.hardware_service import HardwareService

        config = TrainingConfig.model_validate_json(run.config.read_text(encoding="utf-8"))
        service = HardwareService(get_settings().home)
        return service.estimate(config, always_suggest=True)["suggestions"]
    except Exception as exc:  # the OOM is the error to report; a failing estimate must not hide it
        log.warning("no memory suggestions", extra={"fields": {"error": str(exc)}})
        return []


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run_dir = None
    if len(argv) == 3 and argv[1] == "--run-dir":
        argv, run_dir = argv[:1], Path(argv[2])
    if len(argv) != 1:
        print("usage: python -m modelforge_core.worker <job_id> [--run-dir DIR]", file=sys.stderr)
        return EXIT_USAGE
    setup_logging()
    code = run_job(argv[0], run_dir)
    _flush_or_drop_output()
    return code


if __name__ == "__main__":
    sys.exit(main())
