"""``TrainingService``: submit, follow, stop and resume training jobs; each runs on the devices it asks for, the rest queued.

Jobs run in worker processes (``modelforge_core.worker``). All state lives in the database and the
run folder, so the app, the CLI and tests can watch the same job. ``dispatch()`` advances the queue
under the database's queue lock (``DatabaseManager.queue_lock``: several processes, even several apps
sharing one database, may call it) and records the end of jobs whose worker died without recording it.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from ..database.database_manager import DatabaseManager
from ..database.models import ACTIVE_JOB_STATES, FINAL_JOB_STATES
from ..disk import disk_full_error, is_disk_full
from ..exceptions import DatabaseError, NotFoundError, TrainingError
from ..files import write_text_atomic
from ..hardware.detection import nvidia_gpus
from ..logging_config import get_logger
from ..schemas import TrainingConfig
from ..schemas.learning_rates import learning_rate_warning
from ..settings import Settings
from ..training.events import EventLog
from ..training.launch import worker_command, worker_environment
from ..training.run_files import RunFiles
from ..training.trackers import check_trackers
from .disk_need import check_disk_space
from .distributed_check import check_distributed, resized_config
from .gpu_pool import GpuPool, holder_words, write_places
from .model_catalog import ModelCatalog
from .path_access import PathPolicy
from .run_validation import validate_run
from .sweeps import expand_sweep
from .worker_death import describe_worker_end
from .worker_process import kill_process, process_alive, spawn_worker

log = get_logger("training")
__all__ = ["ACTIVE_JOB_STATES", "FINAL_JOB_STATES", "RESUMABLE_STATES", "TrainingService"]
RESUMABLE_STATES = ("stopped", "interrupted", "failed")
MAX_BACKOFF_S = 30.0
REPEAT_LOG_EVERY = 20  # a failure that lasts is logged again once per this many rounds


def _now() -> datetime:
    return datetime.now(UTC)


class TrainingService:
    """The training jobs of one MODELFORGE_HOME; ``catalog`` builds the demo models a job may name."""

    def __init__(
        self, db: DatabaseManager, settings: Settings, catalog: ModelCatalog | None = None, pool: GpuPool | None = None
    ):
        """``pool``: this machine's GPUs (default: those NVML lists, within CUDA_VISIBLE_DEVICES)."""
        self.db = db
        self.settings = settings.ensure_dirs()
        self.catalog = catalog or ModelCatalog(self.settings)
        self.pool = pool or GpuPool.from_machine({"gpus": nvidia_gpus()[0]})
        self._waiting_said: dict[str, str] = {}  # queued job id -> the last "waiting for" line it was told
        self._processes: dict[str, Any] = {}
        self._lowest_memory: dict[str, float] = {}  # job id -> lowest share of RAM available while it ran
        self._unrecorded: set[str] = set()  # dead workers whose end the database could not take yet
        self._dispatcher: threading.Thread | None = None
        self._closing = threading.Event()
        self.dispatch()  # at start: jobs whose worker died become interrupted; the queue moves on

    # -- submitting -------------------------------------------------------------------------

    def validate(self, config: TrainingConfig | dict | str) -> TrainingConfig:
        """The config, checked against providers, strategies, the dataset, the model and this machine's devices."""
        config = validate_run(config, PathPolicy.from_settings(self.settings))
        check_distributed(config, self.pool)
        check_trackers(config, self.settings.home)
        return config

    def submit_sweep(self, config: dict) -> list[dict]:
        """Queue one job per combination of the config's ``sweep`` values (``sweeps.expand_sweep``), in order.

        Every combination is checked first: a bad one queues nothing.
        """
        if isinstance(config.get("model_name"), str):
            self.catalog.ensure_ready(config["model_name"])  # a demo model not built yet is built first
        configs = [self.validate(each) for each in expand_sweep(config)]
        return [self.submit(each) for each in configs]

    def submit(self, config: TrainingConfig | dict | str) -> dict:
        """Validate, create a queued job with its run folder, and start it when the device is free.

        Atomic: the run folder is complete before the job row is written, and a failure on the way
        removes it, so a failed submit leaves neither. Warnings (a learning rate far outside the usual
        range, tight disk space) go into the job's log before it starts.
        """
        config = self.validate(config)
        warnings = [text for text in (learning_rate_warning(config), check_disk_space(config, self.settings.home)) if text]
        job_id = uuid.uuid4().hex[:12]
        run = RunFiles(self.settings.runs_dir / job_id)
        try:
            self._create_run(job_id, run, config, warnings)
        except BaseException as exc:
            shutil.rmtree(run.root, ignore_errors=True)
            if is_disk_full(exc):
                raise disk_full_error(self.settings.home, "creating the job") from None
            if isinstance(exc, OSError):
                raise TrainingError(
                    f"Could not create the run folder {run.root}: {exc.strerror or exc}.",
                    "Check that the data folder (MODELFORGE_HOME) is writable.",
                ) from None
            raise
        log.info("job submitted", extra={"fields": {"job_id": job_id, "model": config.model_name}})
        self.dispatch()
        return self.get_job(job_id)

    def _create_run(self, job_id: str, run: RunFiles, config: TrainingConfig, warnings: list[str]) -> None:
        """The run folder with its config and first events, then the job row (the row makes the job exist)."""
        run.root.mkdir(parents=True)
        staging = run.root / "config.json.partial"
        staging.write_text(config.model_dump_json(indent=2), encoding="utf-8")
        staging.replace(run.config)
        events = EventLog(run.events)
        events.write("status", status="queued", message="Job queued")
        for warning in warnings:
            events.log(warning, level="warning")
        self.db.create_job(job_id=job_id, config=config.to_json_dict(), run_dir=str(run.root))

    def submit_when_ready(self, config: TrainingConfig | dict) -> dict:
        """``submit``, once the model is there: a demo model not built yet is built first (while the app
        still imports the training libraries, this waits for them). The UI and the APIs submit this way."""
        if isinstance(config, TrainingConfig):
            model_name = config.model_name
        else:  # a config still to validate: whatever it names (submit says what is wrong with it)
            model_name = config.get("model_name") if isinstance(config, dict) else None
        if isinstance(model_name, str):
            self.catalog.ensure_ready(model_name)
        return self.submit(config)

    # -- reading ----------------------------------------------------------------------------

    def get_job(self, job_id: str) -> dict:
        job = self.db.get_job(job_id)
        if job is None:
            raise NotFoundError(f"No training job with id '{job_id}'.")
        job["queue_position"] = self.queue_position(job_id) if job["status"] == "queued" else None
        return job

    def list_jobs(self, statuses: list[str] | None = None) -> list[dict]:
        """Jobs in queue order, each with its ``queue_position`` (1 = next to start; None when not queued)."""
        jobs = self.db.list_jobs(statuses)
        queued = [job["id"] for job in (jobs if statuses is None else self.db.list_jobs(["queued"])) if job["status"] == "queued"]
        for job in jobs:
            job["queue_position"] = queued.index(job["id"]) + 1 if job["id"] in queued else None
        return jobs

    def queue_position(self, job_id: str) -> int | None:
        """1 for the next job to start, 2 for the one after, ...; None when not queued."""
        queued = [job["id"] for job in self.db.list_jobs(["queued"])]
        return queued.index(job_id) + 1 if job_id in queued else None

    def events(self, job_id: str) -> list[dict]:
        """Every event of the job so far (its full history)."""
        return EventLog(RunFiles(Path(self.get_job(job_id)["run_dir"])).events).read_all()

    def events_since(self, job_id: str, offset: int = 0) -> tuple[dict, list[dict], int]:
        """(job row, the events written after byte ``offset``, the offset to read from next), without waiting.

        The row is read first, so a job that is already final has its ``end`` event in the list.
        """
        job = self.get_job(job_id)
        events, offset = EventLog(RunFiles(Path(job["run_dir"])).events).read_from(offset)
        return job, events, offset

    def follow(
        self, job_id: str, poll_interval: float = 0.25, timeout: float | None = None, heartbeat: float | None = None
    ) -> Iterator[dict]:
        """Yield the job's events from the start, live, until it ends (or ``timeout`` seconds pass).

        With ``heartbeat``, a ``{"type": "heartbeat"}`` event comes whenever that many seconds pass
        without one, so that a UI can refresh its clocks and decide to stop following.
        """
        job = self.get_job(job_id)
        events = EventLog(RunFiles(Path(job["run_dir"])).events)
        offset, deadline, last_dispatch, position = 0, None, 0.0, None
        last_yield = time.monotonic()
        if timeout is not None:
            deadline = time.monotonic() + timeout
        while True:
            batch, offset = events.read_from(offset)
            yield from batch
            if batch:
                last_yield = time.monotonic()
            elif heartbeat is not None and time.monotonic() - last_yield >= heartbeat:
                last_yield = time.monotonic()
                yield {"time": time.time(), "type": "heartbeat"}
            job = self.db.get_job(job_id) or job
            if job["status"] in FINAL_JOB_STATES:
                yield from self._drain_end(events, offset, seen_end=any(e["type"] == "end" for e in batch))
                return
            if job["status"] == "queued" and self.queue_position(job_id) != position:
                position = self.queue_position(job_id)
                yield {"time": time.time(), "type": "queue", "position": position}
            if time.monotonic() - last_dispatch > 1.0:
                self.dispatch()
                last_dispatch = time.monotonic()
            if deadline is not None and time.monotonic() > deadline:
                return
            time.sleep(poll_interval)

    @staticmethod
    def _drain_end(events: EventLog, offset: int, seen_end: bool) -> Iterator[dict]:
        for _ in range(10):
            batch, offset = events.read_from(offset)
            yield from batch
            if seen_end or any(e["type"] == "end" for e in batch):
                return
            time.sleep(0.1)

    # -- controlling ------------------------------------------------------------------------

    def stop(self, job_id: str, force: bool = False) -> dict:
        """Stop a job: a queued one leaves the queue; a running one saves a checkpoint and ends ``stopped``.

        ``force`` kills the worker at once (what it learned since its last checkpoint is lost).
        """
        job = self.get_job(job_id)
        run = RunFiles(Path(job["run_dir"]))
        events = EventLog(run.events)
        if job["status"] == "queued":
            if self.db.transition_job(job_id, ["queued"], "stopped", finished_at=_now()):
                events.write("end", status="stopped", message="Removed from the queue before it started.")
            return self.get_job(job_id)
        if job["status"] not in ACTIVE_JOB_STATES:
            raise TrainingError(f"Job {job_id} is not running (it is {job['status']}).", "Only queued or running jobs can be stopped.")
        run.stop_request.touch()
        if self.db.transition_job(job_id, ["running"], "stopping"):
            events.log("Stop requested")
        if force:
            kill_process(job.get("pid"), job.get("pid_create_time"))
            if self.db.transition_job(job_id, ACTIVE_JOB_STATES, "stopped", finished_at=_now()):
                events.write("end", status="stopped", message="Killed on request; the last periodic checkpoint is kept.")
        return self.get_job(job_id)

    def resume(self, job_id: str, num_processes: int | None = None) -> dict:
        """Queue a stopped, interrupted or failed job again; it continues from its last checkpoint.

        ``num_processes``: resume on that many processes (GPUs, or CPU processes) instead of the job's own,
        where its checkpoint allows it (``resized_config``); the job's config says so from then on.
        """
        job = self.get_job(job_id)
        run = RunFiles(Path(job["run_dir"]))
        if job["status"] not in RESUMABLE_STATES:
            raise TrainingError(
                f"Job {job_id} cannot be resumed: it is {job['status']}.",
                "Only stopped, interrupted or failed jobs can be resumed.",
            )
        checkpoint = run.last_checkpoint()
        if checkpoint is None:
            raise TrainingError(
                f"Job {job_id} has no checkpoint to resume from.", "Start the training again with the same config."
            )
        config = None
        if num_processes is not None:
            config = resized_config(TrainingConfig.model_validate(job["config"]), num_processes)
            check_distributed(config, self.pool)
        run.stop_request.unlink(missing_ok=True)
        fields = {"resume": True, "finished_at": None, "error_type": None, "error_message": None, "error_hint": None}
        earlier = None
        if config is not None and config.num_processes != job["config"].get("num_processes", 1):
            # the run folder's copy first, which the worker reads: the job is not queued yet, so none starts on it
            earlier = run.config.read_text(encoding="utf-8")
            write_text_atomic(run.config, config.model_dump_json(indent=2))
            fields["config"] = config.to_json_dict()
        if not self.db.transition_job(job_id, RESUMABLE_STATES, "queued", **fields):
            if earlier is not None:
                write_text_atomic(run.config, earlier)
            raise TrainingError(f"Job {job_id} changed state meanwhile; try again.")
        count = config.num_processes if "config" in fields else 0
        on = f" on {count} process{'es' if count > 1 else ''}" if count else ""
        EventLog(run.events).write("status", status="queued", message=f"Resuming from {checkpoint.name}{on}")
        self.dispatch()
        return self.get_job(job_id)

    # -- the queue --------------------------------------------------------------------------

    def dispatch(self) -> None:
        """Mark dead workers' jobs interrupted, then start queued jobs of this data folder while their devices are free.

        Under the database's queue lock, which every app and CLI sharing the database takes (on PostgreSQL
        even those of other data folders). Jobs start in queue order, each on the GPUs it asks for
        (``GpuPool``): on a machine without GPUs, one job at a time. The next job waits while its GPUs are
        held, and the jobs behind it wait too (no job overtakes another). Each app starts only the jobs
        whose run folder lies in its own ``runs_dir``, since another app's worker needs that app's files.
        """
        with self.db.queue_lock():
            self._reconcile()
            held = self.pool.held_by(self.db.list_jobs(ACTIVE_JOB_STATES))
            own_runs = self.settings.runs_dir.resolve()
            for job in self.db.list_jobs(["queued"]):
                if Path(job["run_dir"]).resolve().parent != own_runs:
                    continue
                config, places = self._places_for(job, held)
                if places is None:
                    return
                if places and self.db.transition_job(job["id"], ["queued"], "running", started_at=_now()):
                    self._waiting_said.pop(job["id"], None)
                    write_places(Path(job["run_dir"]), self.pool.host, places)
                    held.update(dict.fromkeys(places, job["id"]))
                    self._start_worker(job, config, places)

    def _places_for(self, job: dict, held: dict[str, str]) -> tuple[TrainingConfig | None, tuple[str, ...] | None]:
        """(the job's config, the devices to start it on now): None while they are held (said once in its log),
        () when it failed."""
        config = None
        try:
            config = TrainingConfig.model_validate(job["config"])
            places = self.pool.choose(config, held)
        except ValueError as exc:  # it can never run here (another machine's GPUs, a config that no longer reads)
            if self.db.transition_job(job["id"], ["queued"], "failed", finished_at=_now(), error_type="ConfigurationError",
                                      error_message=f"This job cannot run on this machine: {exc}"):
                EventLog(RunFiles(Path(job["run_dir"])).events).write(
                    "end", status="failed", error={"error": "ConfigurationError", "message": str(exc)}
                )
            return config, ()
        if places is None:
            wanted = self.pool.places_for(config) or self.pool.places
            words = f"Waiting for free devices: {holder_words(wanted, held)}." if held else ""
            if words and self._waiting_said.get(job["id"]) != words:
                self._waiting_said[job["id"]] = words
                EventLog(RunFiles(Path(job["run_dir"])).events).log(words)
        return config, places

    def device_holders(self) -> dict[str, str]:
        """This machine's devices ("0", "1", ... or "cpu") held by running jobs: device -> job id."""
        return self.pool.held_by(self.db.list_jobs(ACTIVE_JOB_STATES))

    def _start_worker(self, job: dict, config: TrainingConfig, places: tuple[str, ...]) -> None:
        run = RunFiles(Path(job["run_dir"]))
        try:
            command = worker_command(job["id"], config, run.root, has_cuda=bool(self.pool.gpus))
            environment = {**self.pool.environment(places), **worker_environment(config, bool(self.pool.gpus))}
            process, create_time = spawn_worker(job["id"], run.log, self.settings, command, environment)
        except OSError as exc:
            self.db.transition_job(
                job["id"], ["running"], "failed", finished_at=_now(), error_type="TrainingError",
                error_message=f"Could not start the training process: {exc}",
            )
            return
        self._processes[job["id"]] = process
        self.db.update_job(job["id"], pid=process.pid, pid_create_time=create_time)
        EventLog(run.events).write("status", status="starting", message="Training process started", pid=process.pid)

    def _reconcile(self) -> None:
        for job in self.db.list_jobs(ACTIVE_JOB_STATES):
            process = self._processes.get(job["id"])
            alive = process.poll() is None if process is not None else process_alive(job["pid"], job["pid_create_time"])
            if alive:
                self._note_free_memory(job["id"])
            else:
                self._record_worker_end(job, process)

    def _note_free_memory(self, job_id: str) -> None:
        """The lowest share of RAM available while the worker runs: evidence when it dies."""
        memory = psutil.virtual_memory()
        share = memory.available / memory.total if memory.total else 1.0
        self._lowest_memory[job_id] = min(share, self._lowest_memory.get(job_id, 1.0))

    def _record_worker_end(self, job: dict, process: Any) -> None:
        """A worker died without ending its job: record why (failed or interrupted). A database that cannot
        be written now (a full disk) is logged once and retried on the next round."""
        run = RunFiles(Path(job["run_dir"]))
        returncode = process.returncode if process is not None else None
        end = describe_worker_end(returncode, job["pid"], self.settings.home, run.log, self._lowest_memory.get(job["id"]))
        try:
            changed = self.db.transition_job(
                job["id"], ACTIVE_JOB_STATES, end.status, finished_at=_now(),
                error_type="TrainingError", error_message=end.message, error_hint=end.hint,
            )
        except DatabaseError as exc:
            if job["id"] not in self._unrecorded:
                self._unrecorded.add(job["id"])
                log.warning("job end not recorded yet; retrying", extra={"fields": {"job_id": job["id"], "error": exc.message}})
            return
        self._unrecorded.discard(job["id"])
        if changed:
            error = {"error": "TrainingError", "message": end.message, "hint": end.hint}
            try:
                EventLog(run.events).write("end", status=end.status, message=end.message, error=error)
            except OSError:
                pass  # the job row holds the same words
            log.warning("worker ended without recording", extra={"fields": {"job_id": job["id"], "status": end.status}})
        self._processes.pop(job["id"], None)
        self._lowest_memory.pop(job["id"], None)

    def start_background_dispatch(self, interval: float = 1.0) -> None:
        """Advance the queue from a daemon thread (the app uses this; the CLI's follow() does it inline)."""
        if self._dispatcher is not None:
            return

        def loop() -> None:
            delay, failures = interval, 0
            while not self._closing.wait(delay):
                try:
                    self.dispatch()
                except Exception as exc:  # keep the dispatcher alive; retry, less and less often
                    failures += 1
                    if failures == 1:
                        log.exception("dispatch failed; retrying with back-off")
                    elif failures % REPEAT_LOG_EVERY == 0:
                        log.warning("dispatch still failing", extra={"fields": {"failures": failures, "error": str(exc)}})
                    delay = min(interval * 2**failures, MAX_BACKOFF_S)
                    continue
                if failures:
                    log.info("dispatch works again", extra={"fields": {"failures": failures}})
                delay, failures = interval, 0

        self._dispatcher = threading.Thread(target=loop, name="modelforge-dispatch", daemon=True)
        self._dispatcher.start()

    def close(self) -> None:
        """Stop the background dispatcher (running workers go on)."""
        self._closing.set()
