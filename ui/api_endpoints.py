"""Named Gradio API endpoints for scripts (``gradio_client``): train from a config, watch, stop, resume."""

from __future__ import annotations

import functools
import json

import gradio as gr

from modelforge_core.exceptions import ModelForgeException
from modelforge_core.services.job_status import job_status

from .context import UIContext
from .errors import error_text


def in_words(fn):
    """Turn a ModelForgeException into a gr.Error whose text gradio_client shows: class, message, hint."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ModelForgeException as exc:
            raise gr.Error(error_text(exc, kind=True, mark=False)) from exc

    return wrapper


def register_api_endpoints(ctx: UIContext) -> None:
    """Call inside the Blocks context."""

    @in_words
    def submit_config(config_json: str) -> dict:
        """Queue a training job from a TrainingConfig JSON string; returns the job's status."""
        try:
            config = json.loads(config_json)
        except json.JSONDecodeError as exc:
            raise gr.Error(f"The config is not valid JSON: {exc}") from exc
        return job_status(ctx.training.submit_when_ready(config))

    @in_words
    def get_job_status(job_id: str) -> dict:
        """The job's status: queued, running, stopping, completed, failed, stopped or interrupted."""
        return job_status(ctx.training.get_job(job_id))

    @in_words
    def stop_job(job_id: str) -> dict:
        return job_status(ctx.training.stop(job_id))

    @in_words
    def resume_job(job_id: str, num_processes: int | None = None) -> dict:
        """Resume a stopped job; ``num_processes`` resumes it on that many processes (ddp, fsdp)."""
        return job_status(ctx.training.resume(job_id, num_processes=num_processes))

    def list_jobs() -> list[dict]:
        return [job_status(job) for job in ctx.training.list_jobs()]

    def list_models() -> list[dict]:
        """Registered models; ``folder`` is where each is saved (a ``path`` key would read as a file to gradio_client)."""
        return [{("folder" if k == "path" else k): v for k, v in model.items()} for model in ctx.models.list_models()]

    for fn, name in (
        (submit_config, "submit_config"),
        (get_job_status, "job_status"),
        (stop_job, "stop_job"),
        (resume_job, "resume_job"),
        (list_jobs, "list_jobs"),
        (list_models, "list_models"),
    ):
        gr.api(fn, api_name=name)
