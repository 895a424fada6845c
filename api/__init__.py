"""The HTTP API (the seed's routers), served by the same server as the Gradio UI."""

from .errors import EXCEPTION_HANDLERS
from .routers import api_routes, doc_routes
from .server import app_kwargs

__all__ = ["EXCEPTION_HANDLERS", "api_routes", "app_kwargs", "doc_routes"]
