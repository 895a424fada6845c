"""The public view of a job row, shared by the HTTP API, the Gradio API and the CLI."""

from __future__ import annotations


def job_status(job: dict) -> dict:
    """``{"job_id", "status", progress, queue position, model id, error, times}`` of a job row."""
    error = None
    if job.get("error_type"):
        error = {"error": job["error_type"], "message": job.get("error_message"), "hint": job.get("error_hint")}
    return {
        "job_id": job["id"],
        "status": job["status"],
        "current_step": job.get("current_step"),
        "total_steps": job.get("total_steps"),
        "queue_position": job.get("queue_position"),
        "model_id": job.get("model_id"),
        "model_name": (job.get("config") or {}).get("model_name"),
        "created_at": job.get("created_at"),
        "started_at": job.get("started_at"),
        "finished_at": job.get("finished_at"),
        "error": error,
    }
