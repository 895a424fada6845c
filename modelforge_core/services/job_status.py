"""The public view of a job row, shared by the HTTP API, the Gradio API and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model_service import ModelService


def job_status(job: dict, models: ModelService | None = None) -> dict:
    """``{"job_id", "status", progress, queue position, base model, model id and name, error, times}``.

    ``base_model`` is what the job trains (the config's ``model_name``); ``model_id`` and
    ``model_name`` are the registered model's (None until the job has registered one, or once it
    is deleted). The name is looked up in ``models`` (default: the registry of this data folder).
    """
    error = None
    if job.get("error_type"):
        error = {"error": job["error_type"], "message": job.get("error_message"), "hint": job.get("error_hint")}
    model_id = job.get("model_id")
    return {
        "job_id": job["id"],
        "status": job["status"],
        "current_step": job.get("current_step"),
        "total_steps": job.get("total_steps"),
        "queue_position": job.get("queue_position"),
        "base_model": (job.get("config") or {}).get("model_name"),
        "model_id": model_id,
        "model_name": _model_name(model_id, models) if model_id else None,
        "created_at": job.get("created_at"),
        "started_at": job.get("started_at"),
        "finished_at": job.get("finished_at"),
        "error": error,
    }


def _model_name(model_id: str, models: ModelService | None) -> str | None:
    if models is None:
        from ..dependencies import get_model_service

        models = get_model_service()
    from ..exceptions import NotFoundError

    try:
        return models.get_model(model_id)["name"]
    except NotFoundError:  # deleted since
        return None
