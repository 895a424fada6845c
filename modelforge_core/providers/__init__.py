"""Model providers: who loads a model and its tokenizer, and attaches LoRA (Hugging Face, Unsloth)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ModelProvider(Protocol):
    """Everything the core calls on a provider; a new one is written from this protocol alone.

    The factory builds one per run as ``Provider()``. ``model_class`` is the task name when access
    is validated, and the transformers Auto class name (``"AutoModelForCausalLM"``) when loading.
    """

    def get_provider_name(self) -> str:
        """The name used in configs, e.g. ``"huggingface"``."""

    def check_available(self) -> None:
        """Raise ProviderError (saying what to install) when this provider cannot run on this machine."""

    def validate_model_access(self, model_id: str, model_class: Any) -> None:
        """Check, without loading weights, that the model exists, is reachable, and serves the task."""

    def load_tokenizer(self, model_id: str, **kwargs: Any) -> Any:
        """Load the tokenizer, with a pad token set (raises ModelAccessError)."""

    def load_model(self, model_id: str, model_class: Any, quantization_config: Any, **kwargs: Any) -> Any:
        """Load the model weights (raises ModelAccessError, ProviderError, HardwareError).

        ``quantization_config`` is a ``BitsAndBytesConfig`` or None; ``max_seq_length`` is passed in ``kwargs``.
        """

    def attach_lora(self, model: Any, lora_kwargs: dict, gradient_checkpointing: bool, seed: int) -> Any:
        """The model wrapped with a trainable LoRA adapter.

        ``lora_kwargs`` holds ``r``, ``lora_alpha``, ``lora_dropout`` and ``target_modules``.
        """
