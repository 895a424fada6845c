"""``/api/health``, ``/api/info``, ``/api/hardware`` and its estimate and recommendations (routed in routers.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Body, Depends, Query

from modelforge_core import __version__
from modelforge_core.dependencies import get_hardware_service, get_path_policy
from modelforge_core.schemas import parse_training_config
from modelforge_core.services.hardware_service import NO_DATASET, HardwareService
from modelforge_core.services.info import system_info
from modelforge_core.services.path_access import PathPolicy


def health() -> dict:
    return {"status": "ok", "version": __version__}


def info() -> dict:
    """Providers, strategies and tasks that work here; ``access``: local or shared, and the allowed folders."""
    return system_info().to_dict()


def hardware(service: HardwareService = Depends(get_hardware_service)) -> dict:
    return service.detect()


def estimate(
    config: dict[str, Any] = Body(..., description="A TrainingConfig; with its dataset, the time is estimated too."),
    service: HardwareService = Depends(get_hardware_service),
    policy: PathPolicy = Depends(get_path_policy),
) -> dict:
    """Peak memory of training this config here: components, verdict, and changes that would make it fit; with
    a dataset, ``time``: how long the run takes on this machine (per step, training, evaluation, in all).

    It reads the model's config.json (and the dataset), so local paths must be ones the path policy allows.
    """
    parsed = parse_training_config({"dataset": NO_DATASET, **config})
    policy.check_model(parsed.model_name)
    result = service.estimate(parsed)
    if parsed.dataset != NO_DATASET:
        result["time"] = service.estimate_time(parsed)
    return result


def recommendations(
    task: str = Query("text-generation", description="text-generation, summarization or extractive-question-answering"),
    service: HardwareService = Depends(get_hardware_service),
) -> list[dict]:
    """Models that fit this machine for the task, largest first, with strategy and estimated peak."""
    return service.recommendations(task)
