"""``/api/models``: the registry of fine-tuned models."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from modelforge_core.dependencies import get_model_service
from modelforge_core.services.model_service import ModelService

router = APIRouter(prefix="/models", tags=["models"])


@router.get("")
def list_models(models: ModelService = Depends(get_model_service)) -> list[dict]:
    """Every registered model, newest first; each has its ``id``."""
    return models.list_models()
