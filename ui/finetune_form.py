"""The Finetune form: which TrainingConfig fields it shows, and form values <-> config.

Handlers receive the form as a dict {field name: value} and turn it into a config at this
boundary; a bad value comes back as words, never as a traceback.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from modelforge_core.exceptions import ConfigurationError, ModelForgeException
from modelforge_core.schemas import TrainingConfig, parse_training_config
from modelforge_core.schemas.field_bounds import field_bounds

from .errors import error_text


@dataclass(frozen=True)
class FormField:
    """One form field: ``kind`` is number, int, slider, checkbox, dropdown, multiselect or text."""

    name: str
    label: str
    kind: str
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None


def form_field(name: str, label: str, **form_choices: Any) -> FormField:
    """The form field over TrainingConfig field ``name``: its kind, choices and bounds come from the config
    (type, Literal values, gt/ge/lt/le constraints); ``form_choices`` are the form's own (a slider, suggested
    choices for a free-text field, a narrower range) and win."""
    kind, choices = config_kind(name)
    derived = {"kind": "dropdown" if form_choices.get("choices") else kind, "choices": choices,
               **config_range(name, kind)}
    return FormField(name, label, **{**derived, **form_choices})


def _config_types(name: str) -> list:
    """The types field ``name`` accepts, None left out (``int | None`` -> [int])."""
    annotation = TrainingConfig.model_fields[name].annotation
    if get_origin(annotation) in (Union, UnionType):
        return [arg for arg in get_args(annotation) if arg is not type(None)]
    return [annotation]


def config_kind(name: str) -> tuple[str, tuple]:
    """(form kind, choices) for a TrainingConfig field, read from its type: bool -> checkbox, int -> int,
    float -> number, a Literal -> dropdown of its values, a list of a Literal -> multiselect, anything else -> text."""
    types = _config_types(name)
    if len(types) != 1:
        return "text", ()
    if get_origin(types[0]) is Literal:
        return "dropdown", get_args(types[0])
    if get_origin(types[0]) is list and get_origin(get_args(types[0])[0]) is Literal:
        return "multiselect", get_args(get_args(types[0])[0])
    return {bool: "checkbox", int: "int", float: "number"}.get(types[0], "text"), ()


def config_range(name: str, kind: str) -> dict[str, float]:
    """The form's minimum and maximum from the field's constraints. An int field shows the first whole number
    inside an open bound (gt=0 -> 1); a number field shows the bound itself and the config refuses it in words."""
    bounds = field_bounds(TrainingConfig.model_fields[name])
    inside = 1 if kind == "int" else 0
    limits = {}
    if bounds.lower is not None:
        limits["minimum"] = bounds.lower + inside if bounds.lower_open else bounds.lower
    if bounds.upper is not None:
        limits["maximum"] = bounds.upper - inside if bounds.upper_open else bounds.upper
    return limits


BASIC_FIELDS = (
    form_field("num_train_epochs", "Epochs"),
    form_field("max_steps", "Max steps (-1: all epochs)"),
    form_field("learning_rate", "Learning rate"),
    form_field("per_device_train_batch_size", "Batch size"),
    form_field("max_seq_length", "Max sequence length"),
    # The slider spans the useful shares of held-out rows: narrower than the config's [0, 1).
    form_field("eval_split", "Eval split", kind="slider", minimum=0.0, maximum=0.5, step=0.05),
    form_field("lora_r", "LoRA rank"),
    form_field("lora_alpha", "LoRA alpha"),
)
ADVANCED_FIELDS = (
    form_field("finetuning_type", "Fine-tuning type"),
    form_field("gradient_accumulation_steps", "Gradient accumulation"),
    form_field("lora_dropout", "LoRA dropout"),
    form_field("target_modules", "Target modules"),
    form_field("warmup_ratio", "Warmup ratio"),
    form_field("lr_scheduler_type", "LR scheduler", choices=("linear", "cosine", "constant", "constant_with_warmup", "polynomial")),
    form_field("optim", "Optimizer", choices=("adamw_torch", "adamw_torch_fused", "adamw_8bit", "paged_adamw_8bit", "sgd", "adafactor")),
    form_field("weight_decay", "Weight decay"),
    form_field("max_grad_norm", "Max grad norm"),
    form_field("seed", "Seed"),
    form_field("logging_steps", "Logging steps"),
    # 0 in the form stands for the config's None (see default_value and values_to_config_dict).
    form_field("eval_steps", "Eval steps (0: once per epoch)", minimum=0),
    form_field("save_steps", "Checkpoint every N steps"),
    form_field("stratify_by", "Stratify the split by column"),
    form_field("replacements", "Placeholder replacements (JSON)"),
    form_field("drop_duplicates", "Drop duplicate rows"),
    form_field("mask_history", "Train on the last reply only"),
    form_field("completion_only_loss", "Loss on the answer only"),
    form_field("packing", "Packing"),
    form_field("padding_free", "Padding-free batches (fast path)"),
    form_field("chunked_loss", "Chunked loss (fast path)"),
    form_field("attention", "Attention kernel (auto: varlen on a GPU)"),
    form_field("liger_kernel", "Liger kernels (GPU, when installed)"),
    form_field("fill_gpu", "Fill a large GPU (same rows per update)"),
    form_field("gradient_checkpointing", "Gradient checkpointing"),
    form_field("use_4bit", "Load in 4-bit (QLoRA)"),
    form_field("bf16", "bf16"),
    form_field("fp16", "fp16"),
    form_field("output_name", "Name of the fine-tuned model"),
    form_field("oom_recovery", "On out of memory, try again with lighter settings"),
    form_field("oom_shorter_length", "... and, last, with half the max length"),
    form_field("trackers", "Experiment trackers"),
    form_field("tracking_project", "Tracking project (W&B, trackio) or experiment (MLflow)"),
    form_field("tracking_uri", "MLflow tracking URI or folder"),
)
# Shown only on a machine with more than one GPU (see device_fields): how many, which, and how they share the work.
DEVICE_FIELDS = (
    form_field("num_processes", "GPUs for this job"),
    form_field("gpu_ids", "Which GPUs (e.g. 0, 1; empty: the first free)"),
    form_field("distributed", "How the GPUs share the work"),
)


def device_fields(gpu_count: int) -> tuple[FormField, ...]:
    """The several-GPU fields where they can act (more than one GPU), else none."""
    return DEVICE_FIELDS if gpu_count > 1 else ()


def parse_gpu_ids(text: str) -> list[int]:
    """ "0, 1" -> [0, 1]; ConfigurationError in words for anything but GPU numbers."""
    parts = [part.strip() for part in str(text).split(",") if part.strip()]
    if not all(part.isdigit() for part in parts):
        raise ConfigurationError(
            f"Which GPUs: '{text}' is not a list of GPU numbers.", "Write their numbers from the Hardware tab, e.g. 0, 1."
        )
    return [int(part) for part in parts]


# Labels of the strategies' own settings (TrainingStrategy.settings): the form shows a strategy's under
# "Method settings" only while it is picked. A setting without a label here is labelled from its name.
METHOD_LABELS = {
    "dpo_beta": "Beta (KL weight to the base)",
    "dpo_loss_type": "DPO loss",
    "reward_model": "Reward model folder (reuse)",
    "reward_max_steps": "Reward model steps (-1: epochs)",
    "reward_batch_size": "Reward model batch size",
    "num_generations": "Answers sampled per prompt",
    "max_completion_length": "Longest sampled answer (tokens)",
}
METHOD_CHOICES = {"dpo_loss_type": {"choices": ("sigmoid", "ipo", "hinge", "robust", "exo_pair", "nca_pair", "apo_zero")}}


def method_fields(strategy_settings: dict[str, list[str]]) -> tuple[FormField, ...]:
    """One form field per setting that some strategy reads alone, in the strategies' order."""
    names = list(dict.fromkeys(name for settings in strategy_settings.values() for name in settings))
    return tuple(
        form_field(name, METHOD_LABELS.get(name, name.replace("_", " ").capitalize()), **METHOD_CHOICES.get(name, {}))
        for name in names
    )


def without_other_methods_settings(values: dict[str, Any], strategy_settings: dict[str, list[str]]) -> dict[str, Any]:
    """The form values less the settings of strategies other than the picked one: hidden fields act on nothing."""
    own = set(strategy_settings.get(values.get("strategy") or "", []))
    others = {name for settings in strategy_settings.values() for name in settings} - own
    return {name: value for name, value in values.items() if name not in others}


CLEARABLE_FIELDS = (
    "output_name", "target_modules", "column_mapping", "replacements", "stratify_by", "gpu_ids", "tracking_uri",
    "tracking_project",
)
# JSON objects typed as text: field -> (its name in an error, what it maps to what, an example)
JSON_MAP_FIELDS = {
    "column_mapping": ("Column mapping", "column names to field names", '{"question": "instruction"}'),
    "replacements": ("Replacements", "placeholder names to text", '{"name": "Forge", "author": "Acme"}'),
}


def help_text(name: str) -> str:
    """The TrainingConfig field's description: one source of help for CLI docs and the form."""
    field = TrainingConfig.model_fields.get(name)
    return field.description or "" if field else ""


def default_value(name: str, profile_defaults: dict) -> Any:
    """What the form shows for ``name`` at first: the profile's default, else TrainingConfig's ("" for None)."""
    if name in profile_defaults:
        return profile_defaults[name]
    if name == "eval_steps":
        return 0
    default = TrainingConfig.model_fields[name].get_default(call_default_factory=True)
    return "" if default is None else default


def values_to_config_dict(values: dict[str, Any]) -> dict[str, Any]:
    """Form values -> a config dict in the seed's shape (empty optional fields left out)."""
    data: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if name in JSON_MAP_FIELDS:
            value = parse_mapping(value, *JSON_MAP_FIELDS[name])
        elif name == "eval_steps" and int(value) == 0:
            continue
        elif name == "gpu_ids":
            value = parse_gpu_ids(value)
        elif name == "target_modules" and value.strip() != "all-linear":
            value = [part.strip() for part in value.split(",") if part.strip()]
        elif name in TrainingConfig.model_fields and config_kind(name)[0] == "int":
            value = int(value)
        data[name] = value.strip() if isinstance(value, str) else value
    return data


def config_to_form_values(config: dict[str, Any]) -> dict[str, Any]:
    """A stored config (a job's) as form values: the inverse of :func:`values_to_config_dict`."""
    values: dict[str, Any] = {}
    for name, value in config.items():
        if name in JSON_MAP_FIELDS:
            value = json.dumps(value) if value else ""
        elif name in ("target_modules", "gpu_ids") and isinstance(value, list):
            value = ", ".join(str(part) for part in value)
        elif name == "eval_steps" and value is None:
            value = 0
        elif value is None:
            if name not in CLEARABLE_FIELDS:
                continue  # a dropdown has no empty choice: it keeps what it shows
            value = ""
        values[name] = value
    return values


def parse_mapping(text: str, what: str = "Column mapping", maps: str = "column names to field names",
                  example: str = '{"question": "instruction"}') -> dict[str, str]:
    """A {str: str} object typed as JSON (the column mapping, the replacements); ConfigurationError in words
    naming ``what`` when it is not one."""
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{what} is not valid JSON: {exc}", f"Write it as a JSON object, e.g. {example}.") from exc
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise ConfigurationError(f"{what} must map {maps}.", f"e.g. {example}")
    return mapping


def build_config(values: dict[str, Any]) -> TrainingConfig:
    """The validated config for the form (ConfigurationError in words otherwise)."""
    return parse_training_config(values_to_config_dict(values))


def render_config(values: dict[str, Any]) -> tuple[str, str, str]:
    """(config JSON, CLI command, error text) for the form as it stands."""
    try:
        config = build_config(values)
    except ModelForgeException as exc:
        return "", "", error_text(exc)
    data = config.model_dump(mode="json", exclude_defaults=True)
    for key in ("task", "model_name", "provider", "strategy", "dataset"):
        data.setdefault(key, getattr(config, key))
    text = json.dumps(data, indent=2)
    cli = f"cat > config.json <<'EOF'\n{text}\nEOF\npython -m modelforge_core train --config {shlex.quote('config.json')}"
    return text, cli, ""


SWEEP_EXAMPLE = "learning_rate=1e-4, 3e-4, 1e-3; lora_r=8, 16"


def parse_sweep(text: str | None) -> dict[str, list] | None:
    """ "learning_rate=1e-4, 3e-4; lora_r=8, 16" -> {"learning_rate": [0.0001, 0.0003], "lora_r": [8, 16]}; None
    for an empty field; ConfigurationError in words for text that is not settings with lists of values (the
    sweep's own limits are checked when it is queued)."""
    if not text or not text.strip():
        return None
    sweep: dict[str, list] = {}
    for part in (piece.strip() for piece in text.split(";")):
        if not part:
            continue
        name, equals, values = part.partition("=")
        if not equals or not name.strip() or not values.strip():
            raise ConfigurationError(f"Sweep: '{part}' is not a setting with its values.", f"Write it as {SWEEP_EXAMPLE}.")
        sweep[name.strip()] = [_sweep_value(value.strip()) for value in values.split(",") if value.strip()]
    return sweep or None


def _sweep_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a word: a choice such as lr_scheduler_type=cosine
