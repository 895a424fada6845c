"""Pydantic schemas: the training config and the names it accepts."""

from .tasks import TASKS
from .training_config import (
    COMPUTE_PROFILES,
    TrainingConfig,
    parse_training_config,
)

__all__ = ["COMPUTE_PROFILES", "TASKS", "TrainingConfig", "parse_training_config"]
