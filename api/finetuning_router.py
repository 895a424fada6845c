"""``/api/finetune``: check a dataset; start, watch, stop and resume training jobs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Depends, Query

from modelforge_core.dependencies import get_dataset_service, get_model_catalog, get_training_service
from modelforge_core.services.dataset_service import DatasetService
from modelforge_core.services.job_status import job_status
from modelforge_core.services.model_catalog import ModelCatalog
from modelforge_core.services.sweeps import is_sweep
from modelforge_core.services.training_service import TrainingService

router = APIRouter(prefix="/finetune", tags=["finetune"])


@router.post("/start_training")
def start_training(
    config: dict[str, Any] = Body(..., description="A TrainingConfig, e.g. the seed's example JSON."),
    training: TrainingService = Depends(get_training_service),
) -> dict:
    """Validate and queue a training job; answers ``{"job_id": ...}`` at once. A config with a ``sweep``
    queues one job per combination and answers ``{"job_ids": [...], "compare": the comparison's URL}``."""
    if is_sweep(config):
        jobs = training.submit_sweep(config)
        ids = [job["id"] for job in jobs]
        return {"job_ids": ids, "names": [job["config"]["output_name"] for job in jobs],
                "compare": "/api/compare?" + urlencode([("runs", job_id) for job_id in ids])}
    job = training.submit_when_ready(config)
    return {"job_id": job["id"], "status": job["status"], "queue_position": job.get("queue_position")}


@router.post("/check_dataset")
def check_dataset(
    config: dict[str, Any] = Body(..., description="A TrainingConfig (dataset and model_name at least); nothing is trained."),
    datasets: DatasetService = Depends(get_dataset_service),
    catalog: ModelCatalog = Depends(get_model_catalog),
) -> dict:
    """The dataset check: rows, shape, problems, token lengths per split against max_seq_length, truncated and
    dropped rows, and the first rows as the model reads them (runs of text marked trained, context or cut)."""
    if isinstance(config.get("model_name"), str):
        catalog.ensure_ready(config["model_name"])  # a demo model not built yet is built first
    return datasets.check(config)


@router.get("/status/{job_id}")
def status(job_id: str, training: TrainingService = Depends(get_training_service)) -> dict:
    """The job's state; ``base_model`` is what it trains, ``model_id``/``model_name`` the registered result."""
    return job_status(training.get_job(job_id))


@router.get("/events/{job_id}")
def events(job_id: str, training: TrainingService = Depends(get_training_service)) -> list[dict]:
    """The job's full event history so far."""
    return training.events(job_id)


@router.post("/stop/{job_id}")
def stop(job_id: str, training: TrainingService = Depends(get_training_service)) -> dict:
    return job_status(training.stop(job_id))


@router.post("/resume/{job_id}")
def resume(
    job_id: str,
    num_processes: int | None = Query(None, description="Resume on this many processes instead of the job's own (ddp, fsdp)."),
    training: TrainingService = Depends(get_training_service),
) -> dict:
    return job_status(training.resume(job_id, num_processes=num_processes))


@router.get("/jobs")
def jobs(training: TrainingService = Depends(get_training_service)) -> list[dict]:
    return [job_status(job) for job in training.list_jobs()]
