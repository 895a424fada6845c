"""``UnslothProvider``: Unsloth's FastLanguageModel (faster LoRA/QLoRA on NVIDIA GPUs).

Unsloth is optional (``requirements-unsloth.txt``) and is imported only inside these methods.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import ModelAccessError, ProviderError
from ..packages import is_unsloth_available
from .model_classes import check_model_serves_task
from .model_source import read_model_config

INSTALL_HINT = (
    "Install it on a machine with an NVIDIA GPU: pip install -r requirements-unsloth.txt (see README, "
    "'Unsloth'), or use provider 'huggingface', which works everywhere."
)


class UnslothProvider:
    """Loads through ``unsloth.FastLanguageModel`` and attaches LoRA with Unsloth's kernels."""

    def __init__(self) -> None:
        self._tokenizer: Any = None  # loaded by load_model, alongside the model

    def get_provider_name(self) -> str:
        return "unsloth"

    def check_available(self) -> None:
        """Raise ProviderError unless unsloth is installed and a CUDA GPU is present."""
        if not is_unsloth_available():
            raise ProviderError("Unsloth is not installed.", INSTALL_HINT)
        import torch

        if not torch.cuda.is_available():
            raise ProviderError("Unsloth needs an NVIDIA GPU with CUDA, and none was found.", INSTALL_HINT)

    def validate_model_access(self, model_id: str, model_class: Any) -> None:
        self.check_available()
        check_model_serves_task(model_id, read_model_config(model_id), str(model_class))

    def _fast_language_model(self) -> Any:
        self.check_available()
        try:
            from unsloth import FastLanguageModel
        except Exception as exc:  # unsloth raises many kinds of errors at import on unsupported setups
            raise ProviderError(f"Unsloth could not be imported: {exc}", INSTALL_HINT) from exc
        return FastLanguageModel

    def load_model(self, model_id: str, model_class: Any, quantization_config: Any, **kwargs: Any) -> Any:
        """Returns the model only; Unsloth loads the tokenizer alongside and it is kept for load_tokenizer."""
        fast = self._fast_language_model()
        try:
            model, tokenizer = fast.from_pretrained(
                model_name=model_id,
                max_seq_length=kwargs.get("max_seq_length", 2048),
                load_in_4bit=quantization_config is not None,
                dtype=None,
            )
        except (OSError, ValueError) as exc:
            raise ModelAccessError(f"Unsloth could not load '{model_id}': {exc}") from exc
        self._tokenizer = tokenizer
        return model

    def load_tokenizer(self, model_id: str, **kwargs: Any) -> Any:
        tokenizer = self._tokenizer
        if tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(model_id, **kwargs)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    def attach_lora(self, model: Any, lora_kwargs: dict, gradient_checkpointing: bool, seed: int) -> Any:
        """LoRA through ``FastLanguageModel.get_peft_model`` (Unsloth's fused kernels)."""
        fast = self._fast_language_model()
        target = lora_kwargs["target_modules"]
        if target == "all-linear":
            target = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        return fast.get_peft_model(
            model,
            r=lora_kwargs["r"],
            lora_alpha=lora_kwargs["lora_alpha"],
            lora_dropout=lora_kwargs["lora_dropout"],
            target_modules=target,
            use_gradient_checkpointing="unsloth" if gradient_checkpointing else False,
            random_state=seed,
        )
