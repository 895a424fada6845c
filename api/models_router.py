"""``/api/models``, ``/api/hub``, ``/api/playground``: the registry, publishing, and generation."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from modelforge_core.dependencies import (
    get_export_service,
    get_model_service,
    get_playground_service,
    get_training_service,
)
from modelforge_core.services.export_service import EXPORT_FORMATS, GGUF_TYPES, ExportService
from modelforge_core.services.model_service import ModelService
from modelforge_core.services.playground_service import MAX_NEW_TOKENS_CAP, PlaygroundService
from modelforge_core.services.rerun import rerun_model
from modelforge_core.services.run_comparison import compare_runs
from modelforge_core.services.training_service import TrainingService

router = APIRouter(tags=["models"])


class PushRequest(BaseModel):
    model_id: str
    repo_id: str = Field(..., description="your-name/model-name")
    private: bool = True
    token: str | None = Field(None, description="A Hub write token; used for this call only, never stored.")


class ExportRequest(BaseModel):
    format: Literal[EXPORT_FORMATS] = "merged"
    type: Literal[GGUF_TYPES] = Field("q8_0", description="GGUF only: the weights' type.")
    ollama: bool = Field(False, description="GGUF only: write an Ollama Modelfile beside the file.")
    folder: str | None = Field(None, description="A new or empty folder; default: <data folder>/exports/<name>-<format>.")


class GenerateRequest(BaseModel):
    model_id: str
    prompt: str
    max_new_tokens: int = Field(128, ge=1, le=MAX_NEW_TOKENS_CAP)


@router.get("/models")
def list_models(models: ModelService = Depends(get_model_service)) -> list[dict]:
    """Every registered model, newest first; each has its ``id``."""
    return models.list_models()


@router.get("/compare")
def compare(
    runs: list[str] = Query(..., description="Two or more model names or ids, or job ids: ?runs=A&runs=B"),
    training: TrainingService = Depends(get_training_service),
    models: ModelService = Depends(get_model_service),
) -> dict:
    """Runs side by side: their curves by step, final metrics and the config fields in which they differ."""
    return compare_runs(training, models, runs)


@router.get("/models/{model_id}")
def get_model(model_id: str, models: ModelService = Depends(get_model_service)) -> dict:
    return models.get_model(model_id)


@router.delete("/models/{model_id}")
def delete_model(model_id: str, models: ModelService = Depends(get_model_service)) -> dict:
    """Removes the row and the model's files (only ever inside MODELFORGE_HOME)."""
    return models.delete_model(model_id)


@router.post("/models/{model_id}/rerun")
def rerun(
    model_id: str,
    allow_changed_data: bool = Query(False, description="Rerun even though the dataset changed since."),
    training: TrainingService = Depends(get_training_service),
    models: ModelService = Depends(get_model_service),
) -> dict:
    """Queue the model's run again, exactly; ``notes`` say what differs from the first run (data, packages)."""
    result = rerun_model(training, models, model_id, allow_changed_data)
    return {"job_id": result["job"]["id"], "output_name": result["job"]["config"]["output_name"], "notes": result["notes"]}


@router.post("/models/{model_id}/export")
def export_model(model_id: str, request: ExportRequest, exports: ExportService = Depends(get_export_service)) -> dict:
    """Export and check: the folder, its files, the commands that use it, and the parity report."""
    return exports.result_dict(exports.export(model_id, request.folder, request.format, request.type, request.ollama))


@router.get("/models/{model_id}/exports")
def list_exports(model_id: str, exports: ExportService = Depends(get_export_service)) -> list[dict]:
    """The model's exports with their parity reports, newest last."""
    return exports.exports_of(model_id)


@router.post("/hub/push")
def push(request: PushRequest, exports: ExportService = Depends(get_export_service)) -> dict:
    return {"url": exports.push_to_hub(request.model_id, request.repo_id, request.token, request.private)}


@router.post("/playground/generate")
def generate(request: GenerateRequest, playground: PlaygroundService = Depends(get_playground_service)) -> dict:
    return {"text": playground.generate(request.model_id, request.prompt, request.max_new_tokens)}
