"""``/api/health``, ``/api/info``, ``/api/hardware`` (routed in routers.py, health outside auth)."""

from __future__ import annotations

from fastapi import Depends

from modelforge_core import __version__
from modelforge_core.dependencies import get_hardware_service
from modelforge_core.services.hardware_service import HardwareService
from modelforge_core.services.info import system_info


def health() -> dict:
    return {"status": "ok", "version": __version__}


def info() -> dict:
    """Providers, strategies and tasks that work here."""
    return system_info()


def hardware(service: HardwareService = Depends(get_hardware_service)) -> dict:
    return service.detect()
