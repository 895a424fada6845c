"""``HuggingFaceProvider``: transformers' Auto classes, from a Hub id or a local folder."""

from __future__ import annotations

from typing import Any

from ..exceptions import HardwareError, ModelAccessError
from ..strategies.lora import attach_peft_lora
from ..training.distributed import local_rank
from .model_classes import check_model_serves_task
from .model_source import read_model_config


class HuggingFaceProvider:
    """Loads models and tokenizers with transformers; works on CPU, CUDA and MPS."""

    def get_provider_name(self) -> str:
        return "huggingface"

    def check_available(self) -> None:
        """Always available: transformers is a core dependency."""

    def validate_model_access(self, model_id: str, model_class: Any) -> None:
        """``model_class`` is the task name; raises ModelAccessError when the model is missing or unsuitable."""
        check_model_serves_task(model_id, read_model_config(model_id), str(model_class))

    def load_tokenizer(self, model_id: str, **kwargs: Any) -> Any:
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(model_id, **kwargs)
        except (OSError, ValueError) as exc:
            raise ModelAccessError(f"Could not load the tokenizer of '{model_id}': {exc}") from exc
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    def load_model(self, model_id: str, model_class: Any, quantization_config: Any, **kwargs: Any) -> Any:
        """``model_class`` is an Auto class or its name; ``dtype`` and ``device_map`` may be passed."""
        import torch
        import transformers

        auto_class = getattr(transformers, model_class) if isinstance(model_class, str) else model_class
        kwargs.pop("max_seq_length", None)  # a training setting, not a loading one, for transformers
        kwargs.setdefault("dtype", loading_dtype(quantization_config))
        if quantization_config is not None:
            # each process of a several-GPU job loads onto its own GPU
            kwargs.setdefault("device_map", {"": local_rank()} if torch.cuda.is_available() else {"": "cpu"})
        try:
            return auto_class.from_pretrained(model_id, quantization_config=quantization_config, **kwargs)
        except torch.OutOfMemoryError as exc:
            raise HardwareError(f"Out of memory while loading '{model_id}'.") from exc
        except (OSError, ValueError) as exc:
            raise ModelAccessError(f"Could not load the model '{model_id}': {exc}") from exc

    def attach_lora(self, model: Any, lora_kwargs: dict, gradient_checkpointing: bool, seed: int) -> Any:
        """peft's LoRA; ``seed`` is not needed (the pipeline seeds before the adapter is initialised)."""
        return attach_peft_lora(model, lora_kwargs, gradient_checkpointing)


def loading_dtype(quantization_config: Any) -> Any:
    """The checkpoint's own dtype ("auto") on a GPU; float32 on a CPU, where a bfloat16 checkpoint's matmuls
    run about 100x slower than float32 ones without native bfloat16 (measured: 1.3 against 158 GFLOP/s on the
    2-core AMD EPYC the tests ran on, bench/RESULTS.md), and where training runs in float32 anyway."""
    import torch

    if quantization_config is not None or torch.cuda.is_available():
        return "auto"
    mps = getattr(torch.backends, "mps", None)
    return "auto" if mps is not None and mps.is_available() else torch.float32
