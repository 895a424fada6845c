"""TrainingConfig's bounds: declared as pydantic constraints, refused in words, and the edges accepted."""

from __future__ import annotations

import pytest

from modelforge_core.exceptions import ConfigurationError
from modelforge_core.schemas import TrainingConfig, parse_training_config
from modelforge_core.schemas.field_bounds import Bounds, field_bounds

BASE = {"model_name": "/models/demo", "dataset": "/data/d.jsonl"}
POSITIVE = (
    "learning_rate", "num_train_epochs", "per_device_train_batch_size", "per_device_eval_batch_size",
    "gradient_accumulation_steps", "lora_r", "lora_alpha", "logging_steps", "save_steps", "dpo_beta",
    "eval_generation_samples", "max_completion_length", "max_grad_norm", "eval_steps", "reward_batch_size",
)


def _message(**fields) -> str:
    with pytest.raises(ConfigurationError) as info:
        parse_training_config({**BASE, **fields})
    return info.value.message


def test_single_field_bounds_are_the_fields_constraints():
    bounds = {name: field_bounds(field) for name, field in TrainingConfig.model_fields.items()}
    assert all(bounds[name] == Bounds(lower=0, lower_open=True) for name in POSITIVE), {n: bounds[n] for n in POSITIVE}
    assert bounds["eval_split"] == bounds["lora_dropout"] == bounds["warmup_ratio"] == Bounds(0, False, 1, True)
    assert bounds["max_seq_length"] == Bounds(16) and bounds["num_generations"] == Bounds(2)
    assert bounds["weight_decay"] == Bounds(0) and bounds["max_steps"] == bounds["reward_max_steps"] == Bounds(-1)
    assert bounds["seed"] == Bounds(), "no bound where the config had none"


@pytest.mark.parametrize("name", POSITIVE)
def test_a_value_that_must_be_positive_says_so(name):
    assert _message(**{name: 0}) == f"Invalid training config: {name} must be positive, got 0"


@pytest.mark.parametrize(
    "name,value,words",
    [
        ("eval_split", 1.0, "eval_split must be in [0, 1), got 1.0"),
        ("eval_split", -0.1, "eval_split must be in [0, 1), got -0.1"),
        ("lora_dropout", 1.0, "lora_dropout must be in [0, 1), got 1.0"),
        ("warmup_ratio", -0.5, "warmup_ratio must be in [0, 1), got -0.5"),
        ("max_seq_length", 15, "max_seq_length must be at least 16, got 15"),
        ("num_generations", 1, "num_generations must be at least 2, got 1"),
        ("weight_decay", -0.01, "weight_decay must be at least 0, got -0.01"),
        ("max_steps", 0, "max_steps must be positive, or -1 to run all epochs; got 0"),
        ("max_steps", -2, "max_steps must be at least -1, got -2"),
        ("reward_max_steps", 0, "reward_max_steps must be positive, or -1 to run all epochs; got 0"),
        ("batch_size", 0, "batch_size must be positive, got 0"),
    ],
)
def test_a_broken_bound_reads_in_words(name, value, words):
    assert _message(**{name: value}) == f"Invalid training config: {words}"


def test_values_on_a_closed_bound_and_none_are_accepted():
    config = parse_training_config({
        **BASE, "eval_split": 0.0, "lora_dropout": 0.0, "warmup_ratio": 0.0, "weight_decay": 0.0, "max_seq_length": 16,
        "num_generations": 2, "max_steps": -1, "reward_max_steps": -1, "eval_steps": None, "reward_batch_size": None,
    })
    assert (config.max_seq_length, config.num_generations, config.eval_steps, config.reward_batch_size) == (16, 2, None, None)


def test_the_cross_field_rules_still_hold():
    assert "bf16 and fp16 cannot both be on" in _message(bf16=True, fp16=True)
    assert "full fine-tuning cannot train 4-bit weights" in _message(finetuning_type="full", use_4bit=True)
    assert "unknown task 'translation'" in _message(task="translation")


def test_a_profile_default_yields_to_a_field_given_under_its_alias():
    config = parse_training_config({**BASE, "compute_specs": "high_end", "max_length": 64, "batch_size": 3})
    assert (config.max_seq_length, config.per_device_train_batch_size) == (64, 3)
    assert config.gradient_accumulation_steps == 4, "what the config leaves out still comes from the profile"
    assert TrainingConfig.input_names("max_seq_length") == ("max_seq_length", "max_length")
    assert TrainingConfig.field_for_input_name("batch_size") == "per_device_train_batch_size"
    assert TrainingConfig.field_for_input_name("lerning_rate") is None


def test_the_data_fields_default_to_off_and_are_tidied():
    config = parse_training_config(BASE)
    assert (config.replacements, config.stratify_by, config.mask_history) == (None, None, False)
    config = parse_training_config({**BASE, "replacements": {" name ": "Forge"}, "stratify_by": " category ", "mask_history": True})
    assert (config.replacements, config.stratify_by, config.mask_history) == ({"name": "Forge"}, "category", True)
    assert parse_training_config({**BASE, "stratify_by": "  ", "replacements": {}}).model_dump(include={"stratify_by", "replacements"}) == {
        "stratify_by": None, "replacements": None}


@pytest.mark.parametrize("key", ["", "  ", "{{name}}", "two words"])
def test_a_replacement_key_that_is_no_placeholder_name_is_refused(key):
    message = _message(replacements={key: "Forge"})
    assert f"replacements: key {key!r} is not a placeholder name" in message and "without the braces" in message
