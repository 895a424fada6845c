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


def check_model_serves_task(model_id: str, model_config: dict, task: str) -> str:
    """Return the Auto class name for ``task``; raise ModelAccessError naming suitable kinds if it cannot serve it."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    class_name = TASK_MODEL_CLASSES.get(task)
    if class_name is None:
        raise ModelAccessError(f"No model class is known for task '{task}'.", "Pick a supported task.")
    model_type = model_config.get("model_type")
    architectures = model_config.get("architectures") or []
    causal = model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and not any(
        a.endswith(("ForQuestionAnswering", "ForSequenceClassification", "ForTokenClassification", "ForMaskedLM"))
        for a in architectures
    )
    if class_name == "AutoModelForCausalLM" and not causal:
        kind = architectures[0] if architectures else (model_type or "unknown")
        raise ModelAccessError(
            f"Model '{model_id}' ({kind}) cannot serve the task '{task}': it is not a causal language model.",
            f"Pick one of the {SUITABLE_KINDS[task]}.",
        )
    return class_name
