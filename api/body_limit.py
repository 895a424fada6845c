"""A size limit on the bodies the JSON API reads: 413 in the API's error shape, the limit in words.

A pure ASGI middleware for the ``/api`` paths (Gradio's own routes, uploads included, have their own
limit). A declared ``Content-Length`` over the limit is refused before any of the body is read; a
body without one (chunked) is counted as it arrives and refused as soon as it passes the limit. A
body within the limit is handed on to the route as it came.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response, is_api_path


class ApiBodyLimit:
    """Refuses an ``/api`` request whose body is over ``max_bytes`` (``megabytes`` names it in words)."""

    def __init__(self, app: ASGIApp, max_bytes: int, megabytes: float):
        self.app = app
        self.max_bytes = max_bytes
        self.megabytes = megabytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        messages = await self._read_within_limit(receive)
        if messages is None:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)

    async def _read_within_limit(self, receive: Receive) -> list[Message] | None:
        """The body's messages, or None as soon as they pass the limit."""
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages  # the client went away; the route sees that as it would have
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            "RequestTooLargeError",
            f"The request body is larger than this API's limit of {self.megabytes:g} MB.",
            "Send a smaller body, or start the app with MODELFORGE_MAX_BODY_MB set to a larger number of megabytes.",
            413,
            {"Connection": "close"},
        )
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives the messages already read, then reads on (a later disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
