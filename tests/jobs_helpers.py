"""Helpers for tests that watch training jobs."""

from __future__ import annotations

import time


def wait_for_event(service, job_id: str, predicate, timeout: float = 120.0) -> dict:
    """Follow the job until an event satisfies ``predicate``; fail after ``timeout`` seconds."""
    for event in service.follow(job_id, poll_interval=0.1, timeout=timeout):
        if predicate(event):
            return event
    raise AssertionError(f"no matching event for job {job_id} within {timeout}s: {service.get_job(job_id)}")


def run_to_end(service, job_id: str, timeout: float = 300.0) -> list[dict]:
    """Follow the job until it ends; return all its events."""
    events = list(service.follow(job_id, poll_interval=0.1, timeout=timeout))
    status = service.get_job(job_id)["status"]
    assert status in ("completed", "failed", "stopped", "interrupted"), f"job still {status} after {timeout}s"
    return events


def wait_for_status(service, job_id: str, statuses: tuple[str, ...], timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        service.dispatch()
        job = service.get_job(job_id)
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} is {service.get_job(job_id)['status']}, not in {statuses}")


def progress_at_least(step: int):
    return lambda event: event.get("type") == "progress" and event.get("step", 0) >= step


def train_to_model(services, config: dict, timeout: float = 600.0) -> tuple[dict, list[dict]]:
    """Submit ``config``, run it to the end, and return the registered model and the job's events."""
    training, models, _ = services
    job = training.submit(config)
    events = run_to_end(training, job["id"], timeout=timeout)
    job = training.get_job(job["id"])
    assert job["status"] == "completed", job
    return models.get_model(job["model_id"]), events
