"""Which transformers model class serves which task, and refusing a model that cannot.

Decided from ``config.json`` alone (``architectures``, ``model_type``, ``is_encoder_decoder``),
before any weights load, mostly without importing torch.
"""

from __future__ import annotations

from ..exceptions import ModelAccessError
from ..heavy_imports import wait_for_imports
from ..model_kinds import ModelKind
from ..schemas.tasks import TASK_TABLE, TASKS

CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")
NOT_CAUSAL_SUFFIXES = (
    "ForQuestionAnswering", "ForSequenceClassification", "ForTokenClassification", "ForMaskedLM", "ForSeq2SeqLM", "Model",
)


def is_causal_lm(model_config: dict) -> bool:
    """True when the config describes a decoder-only LM that AutoModelForCausalLM loads."""
    if model_config.get("is_encoder_decoder"):
        return False
    architectures = model_config.get("architectures") or []
    if any(a.endswith(CAUSAL_SUFFIXES) for a in architectures):
        return True
    if architectures and all(a.endswith(NOT_CAUSAL_SUFFIXES) for a in architectures):
        return False
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return model_config.get("model_type") in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES


def is_seq2seq_lm(model_config: dict) -> bool:
    """True for an encoder-decoder model (T5, BART, ...)."""
    return bool(model_config.get("is_encoder_decoder"))


def is_qa_encoder(model_config: dict) -> bool:
    """True for an encoder that AutoModelForQuestionAnswering loads with a span head (never a causal LM)."""
    architectures = model_config.get("architectures") or []
    if any(a.endswith("ForQuestionAnswering") for a in architectures):
        return not any(a.endswith(CAUSAL_SUFFIXES) for a in architectures)
    if model_config.get("is_encoder_decoder") or any(a.endswith(CAUSAL_SUFFIXES) for a in architectures):
        return False
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
        MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES,
    )

    model_type = model_config.get("model_type")
    if model_type not in MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES:
        return False
    if architectures:  # an encoder checkpoint (ForMaskedLM, ForPreTraining, ...): causal ones returned above
        return True
    # BERT and RoBERTa also have a causal head class; an encoder is one with a masked-LM head
    return model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def check_model_serves_task(model_id: str, model_config: dict, task: str) -> str:
    """The Auto class name that serves ``task`` with this model; ModelAccessError naming suitable kinds otherwise."""
    wait_for_imports()  # transformers' mappings may be imported here, from a request thread
    if task == "text-generation" and is_causal_lm(model_config):
        return ModelKind.CAUSAL.auto_class
    if task == "summarization":
        if is_seq2seq_lm(model_config):
            return ModelKind.SEQ2SEQ.auto_class
        if is_causal_lm(model_config):
            return ModelKind.CAUSAL.auto_class
    if task == "extractive-question-answering" and is_qa_encoder(model_config):
        return ModelKind.QA.auto_class
    if task not in TASK_TABLE:
        raise ModelAccessError(f"No model class is known for task '{task}'.", f"Pick one of: {', '.join(TASKS)}.")
    architectures = model_config.get("architectures") or []
    kind = architectures[0] if architectures else (model_config.get("model_type") or "unknown")
    raise ModelAccessError(
        f"Model '{model_id}' ({kind}) cannot serve the task '{task}'.",
        f"Pick one of the {TASK_TABLE[task].suitable_models}.",
    )
