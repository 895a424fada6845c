"""Which transformers model class serves which task, and refusing a model that cannot.

Decided from ``config.json`` alone (``model_type`` and ``architectures``), before any weights load.
"""

from __future__ import annotations

from ..exceptions import ModelAccessError

TASK_MODEL_CLASSES = {
    "text-generation": "AutoModelForCausalLM",
    "summarization": "AutoModelForCausalLM",
}
SUITABLE_KINDS = {
    "text-generation": "decoder-only causal language models (Llama, Qwen, Mistral, Gemma, Phi, GPT-2, ...)",
    "summarization": "decoder-only causal language models (Llama, Qwen, Mistral, ...), trained on a prompt-formatted document",
}


CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")
NOT_CAUSAL_SUFFIXES = (
    "ForQuestionAnswering",
    "ForSequenceClassification",
    "ForTokenClassification",
    "ForMaskedLM",
    "ForSeq2SeqLM",
    "Model",
)


def is_causal_lm(model_config: dict) -> bool:
    """True when the config describes a decoder-only LM that AutoModelForCausalLM loads.

    Decided from ``architectures`` where it says (no torch import); otherwise from transformers'
    own model-type mapping.
    """
    architectures = model_config.get("architectures") or []
    if any(a.endswith(CAUSAL_SUFFIXES) for a in architectures):
        return True
    if architectures and all(a.endswith(NOT_CAUSAL_SUFFIXES) for a in architectures):
        return False
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return model_config.get("model_type") in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES


def check_model_serves_task(model_id: str, model_config: dict, task: str) -> str:
    """Return the Auto class name for ``task``; raise ModelAccessError naming suitable kinds if it cannot serve it."""
    class_name = TASK_MODEL_CLASSES.get(task)
    if class_name is None:
        raise ModelAccessError(f"No model class is known for task '{task}'.", "Pick a supported task.")
    if class_name == "AutoModelForCausalLM" and not is_causal_lm(model_config):
        architectures = model_config.get("architectures") or []
        kind = architectures[0] if architectures else (model_config.get("model_type") or "unknown")
        raise ModelAccessError(
            f"Model '{model_id}' ({kind}) cannot serve the task '{task}': it is not a causal language model.",
            f"Pick one of the {SUITABLE_KINDS[task]}.",
        )
    return class_name
