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


def model_kind(model: Any) -> str:
    """``causal``, ``seq2seq`` or ``qa``, from the loaded model (a peft wrapper is looked through)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if type(base).__name__.endswith("ForQuestionAnswering"):
        return "qa"
    return "seq2seq" if getattr(base.config, "is_encoder_decoder", False) else "causal"


PEFT_TASK_TYPES = {"causal": "CAUSAL_LM", "seq2seq": "SEQ_2_SEQ_LM", "qa": "QUESTION_ANS"}


def attach_lora(model: Any, config: Any, provider: Any = None) -> Any:
    """Wrap ``model`` with a trainable LoRA adapter (4-bit models are prepared for k-bit training first).

    The peft task type follows the model kind, so a QA model's span head is trained in full.
    """
    if provider is not None and hasattr(provider, "attach_lora"):
        return provider.attach_lora(model, lora_kwargs(config), config.gradient_checkpointing, config.seed)
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    elif config.gradient_checkpointing:
        model.enable_input_require_grads()
    kind = model_kind(model)
    extra = {"exclude_modules": ["qa_outputs"]} if kind == "qa" else {}  # the span head is trained in full instead
    peft_config = LoraConfig(task_type=PEFT_TASK_TYPES[kind], bias="none", **lora_kwargs(config), **extra)
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
