"""LoRA adapters for a model: peft for the Hugging Face provider, Unsloth's own for Unsloth."""

from __future__ import annotations

from typing import Any


def lora_kwargs(config: Any) -> dict:
    """The LoRA settings of a TrainingConfig, as keyword arguments."""
    return {
        "r": config.lora_r,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
        "target_modules": config.target_modules,
    }


def attach_lora(model: Any, config: Any, provider: Any = None) -> Any:
    """Wrap ``model`` with a trainable LoRA adapter (4-bit models are prepared for k-bit training first)."""
    if provider is not None and hasattr(provider, "attach_lora"):
        return provider.attach_lora(model, lora_kwargs(config), config.gradient_checkpointing, config.seed)
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.enable_input_require_grads()
    peft_config = LoraConfig(task_type="CAUSAL_LM", bias="none", **lora_kwargs(config))
    return get_peft_model(model, peft_config)


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for param in model.parameters():
        n = param.numel()
        total += n
        if param.requires_grad:
            trainable += n
    return trainable, total
