"""ModelForge exceptions as JSON responses with a fitting status code."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from modelforge_core.exceptions import ModelForgeException


def modelforge_error_response(request: Request, exc: ModelForgeException) -> JSONResponse:  # noqa: ARG001
    """``{"error": class, "message": ..., "hint": ...}`` with the exception's ``http_status``."""
    return JSONResponse(exc.to_dict(), status_code=exc.http_status)


EXCEPTION_HANDLERS = {ModelForgeException: modelforge_error_response}
