"""What Gradio's FastAPI app takes from the API at launch: routes, error handlers, the body limit, docs.

Gradio builds its server app in ``launch()``; ``app_kwargs`` reach ``FastAPI(...)`` there, which is
the supported way to add routes, exception handlers and middleware to it. FastAPI's own
``/openapi.json`` and ``/docs`` are off; ours (``routers.doc_routes``) require the API's auth.
"""

from __future__ import annotations

from starlette.middleware import Middleware

from modelforge_core.settings import MEGABYTE

from .body_limit import ApiBodyLimit
from .errors import EXCEPTION_HANDLERS
from .routers import api_routes, doc_routes


def app_kwargs(max_body_mb: float) -> dict:
    """``FastAPI`` arguments for ``blocks.launch(app_kwargs=...)``; API bodies over ``max_body_mb`` get 413."""
    limit = Middleware(ApiBodyLimit, max_bytes=int(max_body_mb * MEGABYTE), megabytes=max_body_mb)
    return {
        "routes": api_routes() + doc_routes(),
        "exception_handlers": dict(EXCEPTION_HANDLERS),
        "middleware": [limit],
        "openapi_url": None,
        "docs_url": None,
        "redoc_url": None,
    }
