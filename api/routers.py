"""All API routes under ``/api``, and the API's docs; every route but health requires auth when the app has it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from . import finetuning_router, models_router, system_router
from .security import require_auth


def openapi_schema(request: Request) -> dict:
    """The app's OpenAPI schema (FastAPI builds it from the routes)."""
    return request.app.openapi()


def swagger_page() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="ModelForge API")


def doc_routes() -> list:
    """``/openapi.json`` and ``/docs``, behind the same auth as the API."""
    docs = APIRouter(dependencies=[Depends(require_auth)])
    docs.add_api_route("/openapi.json", openapi_schema, methods=["GET"], include_in_schema=False)
    docs.add_api_route("/docs", swagger_page, methods=["GET"], include_in_schema=False)
    return list(docs.routes)


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
