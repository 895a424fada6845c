"""HTTP Basic auth for the API when the app runs with ``--auth user:password``."""

from __future__ import annotations

import secrets

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

_basic = HTTPBasic(auto_error=False)
_credentials: tuple[str, str] | None = None


def configure_auth(credentials: tuple[str, str] | None) -> None:
    """Set (or clear) the one user allowed to call the API."""
    global _credentials
    _credentials = credentials


def require_auth(given: HTTPBasicCredentials | None = Depends(_basic)) -> None:
    """Pass when no auth is configured, or when the Basic credentials match."""
    if _credentials is None:
        return
    ok = given is not None and secrets.compare_digest(given.username, _credentials[0]) and secrets.compare_digest(
        given.password, _credentials[1]
    )
    if not ok:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Authentication required.", {"WWW-Authenticate": "Basic"})
