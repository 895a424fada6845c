"""LoRA adapters for a model: peft for the Hugging Face provider, Unsloth's own for Unsloth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..model_kinds import ModelKind

if TYPE_CHECKING:
    from ..providers import ModelProvider


def lora_kwargs(config: Any) -> dict:
    """The LoRA settings of a TrainingConfig, as keyword arguments."""
    return {
        "r": config.lora_r,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
        "target_modules": config.target_modules,
    }


def model_kind(model: Any) -> ModelKind:
    """CAUSAL, SEQ2SEQ or QA, from the loaded model (a peft wrapper is looked through)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if type(base).__name__.endswith("ForQuestionAnswering"):
        return ModelKind.QA
    return ModelKind.SEQ2SEQ if getattr(base.config, "is_encoder_decoder", False) else ModelKind.CAUSAL


PEFT_TASK_TYPES = {ModelKind.CAUSAL: "CAUSAL_LM", ModelKind.SEQ2SEQ: "SEQ_2_SEQ_LM", ModelKind.QA: "QUESTION_ANS"}


def attach_lora(model: Any, config: Any, provider: ModelProvider) -> Any:
    """Wrap ``model`` with a trainable LoRA adapter of the config's settings, the provider's way."""
    return provider.attach_lora(model, lora_kwargs(config), config.gradient_checkpointing, config.seed)


def attach_peft_lora(model: Any, settings: dict, gradient_checkpointing: bool) -> Any:
    """peft's LoRA (4-bit models are prepared for k-bit training first): the Hugging Face provider's way.

    ``settings`` are ``lora_kwargs``. The peft task type follows the model kind, so a QA model's span
    head is trained in full.
    """
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    elif gradient_checkpointing:
        model.enable_input_require_grads()
    kind = model_kind(model)
    extra = {"exclude_modules": ["qa_outputs"]} if kind is ModelKind.QA else {}  # the span head is trained in full instead
    peft_config = LoraConfig(task_type=PEFT_TASK_TYPES[kind], bias="none", **settings, **extra)
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
