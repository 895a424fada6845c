"""Model providers: who loads a model and its tokenizer (Hugging Face, Unsloth)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ModelProvider(Protocol):
    """The seed's provider protocol. ``model_class`` is a task name or a transformers Auto class."""

    def load_model(self, model_id: str, model_class: Any, quantization_config: Any, **kwargs: Any) -> Any:
        """Load the model weights (raises ModelAccessError, ProviderError, HardwareError)."""

    def load_tokenizer(self, model_id: str, **kwargs: Any) -> Any:
        """Load the tokenizer, with a pad token set (raises ModelAccessError)."""

    def validate_model_access(self, model_id: str, model_class: Any) -> None:
        """Check, without loading weights, that the model exists, is reachable, and serves the task."""

    def get_provider_name(self) -> str:
        """The name used in configs, e.g. ``"huggingface"``."""
