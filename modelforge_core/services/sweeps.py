"""Small sweeps: one or two settings given as lists queue one job per combination.

A config carries them under ``sweep``, e.g. ``"sweep": {"learning_rate": [1e-4, 3e-4, 1e-3]}``; each job
gets the base config with one combination and a name that says it (``tiny-sft-lr0.0003``). Everything is
checked before the first job is queued, so a bad value queues nothing.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from ..exceptions import ConfigurationError
from ..names import name_from
from ..schemas import TrainingConfig, parse_training_config

MAX_SETTINGS = 2
MAX_VALUES = 8
MAX_RUNS = 16
SHORT_NAMES = {
    "learning_rate": "lr", "lora_r": "r", "lora_alpha": "alpha", "lora_dropout": "dropout", "num_train_epochs": "epochs",
    "per_device_train_batch_size": "batch", "gradient_accumulation_steps": "accum", "max_seq_length": "len",
    "warmup_ratio": "warmup", "weight_decay": "wd", "max_steps": "steps", "seed": "seed",
}
NOT_SWEPT = ("output_name", "dataset", "sweep")  # each job's name is made here; one dataset per comparison


def is_sweep(config: Any) -> bool:
    return isinstance(config, dict) and config.get("sweep") is not None


def expand_sweep(config: dict) -> list[dict]:
    """One config per combination of the swept values, each named after its values; ConfigurationError in
    words for a sweep that is not one or two settings with 2 to 8 values each, or more than 16 runs."""
    sweep = config.get("sweep")
    example = '"sweep": {"learning_rate": [1e-4, 3e-4, 1e-3]}'
    if not isinstance(sweep, dict) or not sweep:
        raise ConfigurationError("sweep must be an object of settings and their values.", f"For example {example}.")
    if len(sweep) > MAX_SETTINGS:
        raise ConfigurationError(f"A sweep takes one or two settings, not {len(sweep)} ({', '.join(sweep)}).",
                                 "Sweep one or two settings at a time; compare the best with the next.")
    for name, values in sweep.items():
        if name not in TrainingConfig.model_fields or name in NOT_SWEPT:
            raise ConfigurationError(f"sweep: '{name}' is not a setting a sweep can vary.",
                                     f"Use training settings such as learning_rate, lora_r or num_train_epochs; {example}.")
        if not isinstance(values, list) or not 2 <= len(values) <= MAX_VALUES or len(set(map(json.dumps, values))) != len(values):
            raise ConfigurationError(f"sweep: {name} must be a list of 2 to {MAX_VALUES} different values, got {values!r}.",
                                     f"For example {example}.")
    runs = 1
    for values in sweep.values():
        runs *= len(values)
    if runs > MAX_RUNS:
        raise ConfigurationError(f"This sweep makes {runs} runs; at most {MAX_RUNS} are queued at once.",
                                 "Fewer values, or one setting at a time.")
    base = {key: value for key, value in config.items() if key != "sweep"}
    stem = base.get("output_name") or parse_training_config(base).run_name  # the base must be a valid config itself
    names = list(sweep)
    return [
        {**base, **dict(zip(names, combination)), "output_name": sweep_name(stem, dict(zip(names, combination)))}
        for combination in itertools.product(*sweep.values())
    ]


def sweep_name(stem: str, values: dict) -> str:
    """'tiny-sft' + {learning_rate: 0.0003} -> 'tiny-sft-lr0.0003'."""
    parts = [f"{SHORT_NAMES.get(name, name)}{_value(value)}" for name, value in values.items()]
    return name_from("-".join([stem, *parts]))


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
