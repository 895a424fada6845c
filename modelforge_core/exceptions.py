"""The ModelForge exception hierarchy: every user-facing error carries a message and a hint.

The UI shows ``message`` and ``hint`` next to the action, the API maps the class to a status
code, and the CLI prints both and exits non-zero.
"""

from __future__ import annotations


class ModelForgeException(Exception):
    """Base class: ``message`` says what is wrong, ``hint`` how to fix it."""

    default_hint = ""
    http_status = 400

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return f"{self.message} Hint: {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict:
        """A JSON-safe form, for events, job rows and API error bodies."""
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


class ModelAccessError(ModelForgeException):
    """A model cannot be found, reached, or used for the requested task."""

    default_hint = "Check the model id or folder, your network, and your Hugging Face token."
    http_status = 404


class DatasetValidationError(ModelForgeException):
    """A dataset cannot be read or does not have the shape the task and strategy need."""

    default_hint = "Fix the dataset file (see the row and field named) and try again."
    http_status = 422


class TrainingError(ModelForgeException):
    """Training failed, or a job cannot be started, stopped or resumed."""

    default_hint = "See the job's log for details."
    http_status = 409


class ProviderError(ModelForgeException):
    """A model provider is unknown, not installed, or cannot run here."""

    default_hint = "Use provider 'huggingface', which works everywhere."
    http_status = 400


class ConfigurationError(ModelForgeException):
    """A configuration value or combination is invalid."""

    default_hint = "Fix the value named in the message."
    http_status = 422


class HardwareError(ModelForgeException):
    """The hardware cannot run what was asked (no GPU, out of memory, ...)."""

    default_hint = "Use a smaller model, a smaller batch, 4-bit quantization, or the CPU."
    http_status = 507


class DatabaseError(ModelForgeException):
    """The registry database cannot be opened, read or written."""

    default_hint = "Check MODELFORGE_HOME / MODELFORGE_DATABASE_URL and that the disk is writable."
    http_status = 500


class NotFoundError(ModelForgeException):
    """A job or model with the given id does not exist."""

    default_hint = "List what exists with `python -m modelforge_core jobs list` or `models list`."
    http_status = 404


class PathNotAllowedError(ModelForgeException):
    """A path from user input lies outside what a shared app may read or write."""

    default_hint = "Upload the file instead, or start the app with --allow-path DIR for the folder that holds it."
    http_status = 403


EXCEPTIONS_BY_NAME = {
    cls.__name__: cls
    for cls in (
        ModelForgeException,
        ModelAccessError,
        DatasetValidationError,
        TrainingError,
        ProviderError,
        ConfigurationError,
        HardwareError,
        DatabaseError,
        NotFoundError,
        PathNotAllowedError,
    )
}
