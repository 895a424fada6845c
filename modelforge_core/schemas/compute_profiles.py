"""Training defaults per compute profile: what a config's ``compute_specs`` fills in where a field is left out.

Precision (bf16/fp16) is not here: it depends on the GPU, and the hardware service adds it.
"""

from __future__ import annotations

from collections.abc import Callable

PROFILES = ("cpu", "low_end", "mid_range", "high_end")

PROFILE_DEFAULTS = {
    "cpu": {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "max_seq_length": 512, "use_4bit": False, "gradient_checkpointing": False},
    "low_end": {"per_device_train_batch_size": 1, "gradient_accumulation_steps": 8, "max_seq_length": 1024, "use_4bit": True, "gradient_checkpointing": True},
    "mid_range": {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 4, "max_seq_length": 1024, "use_4bit": True, "gradient_checkpointing": True},
    "high_end": {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 4, "max_seq_length": 2048, "use_4bit": False, "gradient_checkpointing": True},
}


def with_profile_defaults(data: dict, input_names: Callable[[str], tuple[str, ...]]) -> dict:
    """``data`` with its profile's defaults for the fields it leaves out under all of their ``input_names``
    (a field's name and aliases)."""
    defaults = PROFILE_DEFAULTS.get(data.get("compute_specs") or "", {})
    filled = dict(data)
    for name, value in defaults.items():
        if not any(key in data for key in input_names(name)):
            filled[name] = value
    return filled
