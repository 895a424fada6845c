"""ModelForge core: fine-tune language models headless (CLI, Python, tests), under the Gradio app.

Importing this package is cheap: torch, transformers, trl, gradio and unsloth load only in the
functions that need them.
"""

from .exceptions import (
    ConfigurationError,
    DatabaseError,
    DatasetValidationError,
    HardwareError,
    ModelAccessError,
    ModelForgeException,
    NotFoundError,
    ProviderError,
    TrainingError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigurationError",
    "DatabaseError",
    "DatasetValidationError",
    "HardwareError",
    "ModelAccessError",
    "ModelForgeException",
    "NotFoundError",
    "ProviderError",
    "TrainingError",
    "__version__",
]
