"""The Finetune form: which TrainingConfig fields it shows, and form values <-> config.

Handlers receive the form as a dict {field name: value} and turn it into a config at this
boundary; a bad value comes back as words, never as a traceback.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from modelforge_core.exceptions import ConfigurationError, ModelForgeException
from modelforge_core.schemas import TrainingConfig, parse_training_config


@dataclass(frozen=True)
class Field:
    """One form field: ``kind`` is number, int, slider, checkbox, dropdown or text."""

    name: str
    label: str
    kind: str
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None


BASIC_FIELDS = (
    Field("num_train_epochs", "Epochs", "number", minimum=0.01),
    Field("max_steps", "Max steps (-1: all epochs)", "int", minimum=-1),
    Field("learning_rate", "Learning rate", "number", minimum=0),
    Field("per_device_train_batch_size", "Batch size", "int", minimum=1),
    Field("max_seq_length", "Max sequence length", "int", minimum=16),
    Field("eval_split", "Eval split", "slider", minimum=0.0, maximum=0.5, step=0.05),
    Field("lora_r", "LoRA rank", "int", minimum=1),
    Field("lora_alpha", "LoRA alpha", "int", minimum=1),
)
ADVANCED_FIELDS = (
    Field("finetuning_type", "Fine-tuning type", "dropdown", choices=("lora", "full")),
    Field("gradient_accumulation_steps", "Gradient accumulation", "int", minimum=1),
    Field("lora_dropout", "LoRA dropout", "number", minimum=0, maximum=0.99),
    Field("target_modules", "Target modules", "text"),
    Field("warmup_ratio", "Warmup ratio", "number", minimum=0, maximum=0.99),
    Field("lr_scheduler_type", "LR scheduler", "dropdown", choices=("linear", "cosine", "constant", "constant_with_warmup", "polynomial")),
    Field("optim", "Optimizer", "dropdown", choices=("adamw_torch", "adamw_torch_fused", "adamw_8bit", "paged_adamw_8bit", "sgd", "adafactor")),
    Field("weight_decay", "Weight decay", "number", minimum=0),
    Field("max_grad_norm", "Max grad norm", "number", minimum=0),
    Field("seed", "Seed", "int"),
    Field("logging_steps", "Logging steps", "int", minimum=1),
    Field("eval_steps", "Eval steps (0: once per epoch)", "int", minimum=0),
    Field("save_steps", "Checkpoint every N steps", "int", minimum=1),
    Field("completion_only_loss", "Loss on the answer only", "checkbox"),
    Field("packing", "Packing", "checkbox"),
    Field("padding_free", "Padding-free batches (fast path)", "checkbox"),
    Field("chunked_loss", "Chunked loss (fast path)", "checkbox"),
    Field("gradient_checkpointing", "Gradient checkpointing", "checkbox"),
    Field("use_4bit", "Load in 4-bit (QLoRA)", "checkbox"),
    Field("bf16", "bf16", "checkbox"),
    Field("fp16", "fp16", "checkbox"),
    Field("output_name", "Name of the fine-tuned model", "text"),
)
CLEARABLE_FIELDS = ("output_name", "target_modules", "column_mapping")


def help_text(name: str) -> str:
    """The TrainingConfig field's description: one source of help for CLI docs and the form."""
    field = TrainingConfig.model_fields.get(name)
    return field.description or "" if field else ""


def default_value(name: str, profile_defaults: dict) -> Any:
    if name in profile_defaults:
        return profile_defaults[name]
    if name == "eval_steps":
        return 0
    default = TrainingConfig.model_fields[name].default
    return "" if default is None else default


def values_to_config_dict(values: dict[str, Any]) -> dict[str, Any]:
    """Form values -> a config dict in the seed's shape (empty optional fields left out)."""
    data: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if name == "column_mapping":
            value = parse_mapping(value)
        elif name == "eval_steps" and int(value) == 0:
            continue
        elif name == "target_modules" and value.strip() != "all-linear":
            value = [part.strip() for part in value.split(",") if part.strip()]
        elif name in ("max_steps", "per_device_train_batch_size", "max_seq_length", "lora_r", "lora_alpha", "seed",
                      "gradient_accumulation_steps", "logging_steps", "eval_steps", "save_steps"):
            value = int(value)
        data[name] = value.strip() if isinstance(value, str) else value
    return data


def config_to_form_values(config: dict[str, Any]) -> dict[str, Any]:
    """A stored config (a job's) as form values: the inverse of :func:`values_to_config_dict`."""
    values: dict[str, Any] = {}
    for name, value in config.items():
        if name == "column_mapping":
            value = json.dumps(value) if value else ""
        elif name == "target_modules" and isinstance(value, list):
            value = ", ".join(value)
        elif name == "eval_steps" and value is None:
            value = 0
        elif value is None:
            if name not in CLEARABLE_FIELDS:
                continue  # a dropdown has no empty choice: it keeps what it shows
            value = ""
        values[name] = value
    return values


def parse_mapping(text: str) -> dict[str, str]:
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"Column mapping is not valid JSON: {exc}", 'Write it as {"your column": "expected field"}.'
        ) from exc
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ConfigurationError("Column mapping must map column names to field names.", 'e.g. {"question": "instruction"}')
    return mapping


def build_config(values: dict[str, Any]) -> TrainingConfig:
    """The validated config for the form (ConfigurationError in words otherwise)."""
    return parse_training_config(values_to_config_dict(values))


def render_config(values: dict[str, Any]) -> tuple[str, str, str]:
    """(config JSON, CLI command, error text) for the form as it stands."""
    try:
        config = build_config(values)
    except ModelForgeException as exc:
        return "", "", f"⚠️ {exc.message} {exc.hint}".strip()
    data = config.model_dump(mode="json", exclude_defaults=True)
    for key in ("task", "model_name", "provider", "strategy", "dataset"):
        data.setdefault(key, getattr(config, key))
    text = json.dumps(data, indent=2)
    cli = f"cat > config.json <<'EOF'\n{text}\nEOF\npython -m modelforge_core train --config {shlex.quote('config.json')}"
    return text, cli, ""
