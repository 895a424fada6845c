"""The registry database: ORM tables and the ``DatabaseManager`` that reads and writes them."""

from .database_manager import DatabaseManager
from .models import (
    ACTIVE_JOB_STATES,
    FINAL_JOB_STATES,
    JOB_STATES,
    Base,
    ModelRecord,
    TrainingJob,
)

__all__ = [
    "ACTIVE_JOB_STATES",
    "FINAL_JOB_STATES",
    "JOB_STATES",
    "Base",
    "DatabaseManager",
    "ModelRecord",
    "TrainingJob",
]
