"""Factory functions for the services: the one place where they are built and wired.

The app and the CLI call these; tests build services directly with their own Settings. Services
are cached per MODELFORGE_HOME / database URL, so a changed environment gets fresh ones.
"""

from __future__ import annotations

from functools import lru_cache

from .database.database_manager import DatabaseManager
from .services.model_service import ModelService
from .services.training_service import TrainingService
from .settings import Settings, get_settings


@lru_cache(maxsize=8)
def _db_for(url: str) -> DatabaseManager:
    return DatabaseManager(url)


def get_db_manager(settings: Settings | None = None) -> DatabaseManager:
    settings = (settings or get_settings()).ensure_dirs()
    return _db_for(settings.database_url)


def get_model_service(settings: Settings | None = None) -> ModelService:
    settings = settings or get_settings()
    return ModelService(get_db_manager(settings), settings)


@lru_cache(maxsize=8)
def _training_for(settings: Settings) -> TrainingService:
    return TrainingService(get_db_manager(settings), settings)


def get_training_service(settings: Settings | None = None) -> TrainingService:
    return _training_for(settings or get_settings())
