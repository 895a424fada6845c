"""Every error under ``/api`` (and the API's docs) as ``{"error", "message", "hint"}`` with a fitting status.

ModelForge exceptions carry their own class, words and ``http_status``. Request validation (bad JSON,
a wrong type, a value out of bounds), unknown routes, a wrong method, missing auth and unexpected
failures get the same shape here. Outside those paths (Gradio's own routes) FastAPI's and Starlette's
default answers are kept as they were.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelforge_core.exceptions import ModelForgeException

API_PREFIX = "/api"
API_DOC_PATHS = ("/openapi.json", "/docs")
HTTP_ERROR_NAMES = {401: "AuthenticationError", 404: "NotFoundError", 405: "MethodNotAllowedError", 413: "RequestTooLargeError"}
_DOCS_HINT = "/docs (or GET /openapi.json) describes every route and its body."


def is_api_path(path: str) -> bool:
    """True for ``/api``, anything under it, and the API's docs."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/") or path in API_DOC_PATHS


def error_response(error: str, message: str, hint: str, status: int, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, "hint": hint}, status_code=status, headers=headers)


def modelforge_error_response(request: Request, exc: ModelForgeException) -> JSONResponse:  # noqa: ARG001
    """``{"error": class, "message": ..., "hint": ...}`` with the exception's ``http_status``."""
    return JSONResponse(exc.to_dict(), status_code=exc.http_status)


def _api_routes(request: Request) -> str:
    """The API's paths, from the app's OpenAPI schema (FastAPI builds it once, from every route)."""
    return ", ".join(sorted(path for path in request.app.openapi().get("paths", {}) if is_api_path(path)))


def _http_error_words(request: Request, exc: StarletteHTTPException) -> tuple[str, str]:
    method, path = request.method, request.url.path
    if exc.status_code == 404:
        return f"No API route {method} {path}.", f"The routes: {_api_routes(request)}. {_DOCS_HINT}"
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "another method")
        return f"{path} does not answer {method}; it answers {allowed}.", f"Send the request as {allowed}. {_DOCS_HINT}"
    if exc.status_code == 401:
        return (
            "Authentication required: this app was started with --auth.",
            "Send the app's user and password with HTTP Basic auth, e.g. curl -u user:password ...",
        )
    return str(exc.detail), _DOCS_HINT


async def http_error_response(request: Request, exc: StarletteHTTPException) -> Response:
    """Unknown route, wrong method, auth: in the API's shape under /api, FastAPI's default elsewhere."""
    if not is_api_path(request.url.path):
        return await http_exception_handler(request, exc)
    message, hint = _http_error_words(request, exc)
    error = HTTP_ERROR_NAMES.get(exc.status_code, "HTTPError")
    return error_response(error, message, hint, exc.status_code, exc.headers)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_words(errors: list[dict]) -> tuple[str, str]:
    """Pydantic's errors as one sentence naming each field and its problem, and a hint."""
    parts, whole_body = [], False
    for err in errors:
        where, *field = [str(part) for part in err.get("loc", ())] or ["body"]
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "it cannot be parsed")
            parts.append(f"the request body is not valid JSON ({reason}, at character {field[0] if field else 0})")
            whole_body = True
            continue
        name = ".".join(field) if field else "the request body"
        whole_body = whole_body or not field
        label = name if where == "body" or not field else f"{where} parameter {name}"
        got = f", got {_shown(err['input'])}" if "input" in err and err.get("type") != "missing" else ""
        parts.append(f"{label}: {err.get('msg', 'invalid')}{got}")
    hint = "Send a JSON object ({...}) with Content-Type: application/json." if whole_body else "Fix the fields named."
    return "The request is not valid: " + "; ".join(parts) + ".", f"{hint} {_DOCS_HINT}"


async def validation_error_response(request: Request, exc: RequestValidationError) -> Response:
    """422 with the field and the problem in words under /api, FastAPI's default elsewhere."""
    if not is_api_path(request.url.path):
        return await request_validation_exception_handler(request, exc)
    message, hint = validation_words(list(exc.errors()))
    return error_response("RequestValidationError", message, hint, 422)


async def unexpected_error_response(request: Request, exc: Exception) -> Response:
    """A failure no handler knew (logged by the server): 500 in the API's shape, plain text elsewhere."""
    if not is_api_path(request.url.path):
        return PlainTextResponse("Internal Server Error", status_code=500)  # Starlette's own answer
    return error_response(
        "InternalError",
        f"The app failed while answering {request.method} {request.url.path} ({type(exc).__name__}).",
        "This is a fault in ModelForge, not in the request; the app's log has the details.",
        500,
    )


EXCEPTION_HANDLERS = {
    ModelForgeException: modelforge_error_response,
    RequestValidationError: validation_error_response,
    StarletteHTTPException: http_error_response,
    Exception: unexpected_error_response,
}
