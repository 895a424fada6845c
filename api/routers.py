"""All API routes under ``/api``; every route but health requires auth when the app has it."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from . import finetuning_router, models_router, system_router
from .security import require_auth


def api_routes() -> list:
    """The routes to hand to the app (Gradio's FastAPI app takes them at creation)."""
    api = APIRouter(prefix="/api")
    api.add_api_route("/health", system_router.health, methods=["GET"], tags=["system"])
    protected = APIRouter(dependencies=[Depends(require_auth)])
    protected.add_api_route("/info", system_router.info, methods=["GET"], tags=["system"])
    protected.add_api_route("/hardware", system_router.hardware, methods=["GET"], tags=["system"])
    protected.add_api_route("/hardware/estimate", system_router.estimate, methods=["POST"], tags=["system"])
    protected.add_api_route("/hardware/recommendations", system_router.recommendations, methods=["GET"], tags=["system"])
    protected.include_router(finetuning_router.router)
    protected.include_router(models_router.router)
    api.include_router(protected)
    return list(api.routes)
