"""Factory functions for the services: the one place where they are built and wired.

The app (its API routes use them with FastAPI's ``Depends``), the UI and the CLI call these. They
take no arguments: settings come from the environment (MODELFORGE_HOME, MODELFORGE_DATABASE_URL, and
the access mode app.py sets: MODELFORGE_EXPOSED, MODELFORGE_ALLOW_PATHS), and services are cached
per settings, so a changed environment gets fresh ones.
"""

from __future__ import annotations

from functools import lru_cache

from .database.database_manager import DatabaseManager
from .services.dataset_service import DatasetService
from .services.evaluation_service import EvaluationService
from .services.export_service import ExportService
from .services.hardware_service import HardwareService
from .services.model_catalog import ModelCatalog
from .services.model_service import ModelService
from .services.path_access import PathPolicy
from .services.playground_service import PlaygroundService
from .services.training_service import ACTIVE_JOB_STATES, TrainingService
from .settings import Settings, get_settings


@lru_cache(maxsize=8)
def _db_for(url: str) -> DatabaseManager:
    return DatabaseManager(url)


@lru_cache(maxsize=8)
def _training_for(settings: Settings) -> TrainingService:
    return TrainingService(_db_for(settings.database_url), settings, _catalog_for(settings))


@lru_cache(maxsize=8)
def _catalog_for(settings: Settings) -> ModelCatalog:
    return ModelCatalog(settings)


@lru_cache(maxsize=8)
def _playground_for(settings: Settings) -> PlaygroundService:
    training = _training_for(settings)
    return PlaygroundService(
        ModelService(_db_for(settings.database_url), settings),
        gpu_busy=lambda: bool(training.list_jobs(ACTIVE_JOB_STATES)),
    )


def _settings() -> Settings:
    return get_settings().ensure_dirs()


def get_db_manager() -> DatabaseManager:
    return _db_for(_settings().database_url)


def get_model_service() -> ModelService:
    settings = _settings()
    return ModelService(_db_for(settings.database_url), settings)


def get_training_service() -> TrainingService:
    return _training_for(_settings())


def get_path_policy() -> PathPolicy:
    """Which paths from user input may be read and written (all of them unless the app is shared)."""
    return PathPolicy.from_settings(_settings())


def get_dataset_service() -> DatasetService:
    return DatasetService(_settings())


def get_hardware_service() -> HardwareService:
    return HardwareService(_settings().home)


def get_model_catalog() -> ModelCatalog:
    return _catalog_for(_settings())


def get_playground_service() -> PlaygroundService:
    """One per data folder: it keeps the loaded model between requests."""
    return _playground_for(_settings())


def get_export_service() -> ExportService:
    return ExportService(get_model_service(), get_path_policy())


def get_evaluation_service() -> EvaluationService:
    return EvaluationService(get_model_service(), get_path_policy())
