"""The usual learning rates per method, and a warning in words for one far outside them.

The ranges are what LoRA and full fine-tuning recipes use (TRL, LLaMA-Factory, Unsloth): LoRA
adapters train at about 2e-4, full weights about ten times lower, preference and reinforcement
methods (DPO, KTO, ORPO, SimPO, RLHF, GRPO) lower still. "Far outside" is more than ten times
beyond the range: a run there usually diverges (NaN loss) or learns nothing.
"""

from __future__ import annotations

from typing import Any, NamedTuple

FAR = 10.0
PREFERENCE_STRATEGIES = ("dpo", "rlhf", "kto", "orpo", "simpo", "grpo")


class UsualRange(NamedTuple):
    """A method's usual learning rates, and its name in words."""

    method: str
    low: float
    high: float

    def words(self) -> str:
        return f"{self.low:g} to {self.high:g} for {self.method}"


def usual_learning_rates(config: Any) -> UsualRange:
    """The usual range for the config's strategy and fine-tuning type (LoRA or full)."""
    full = config.finetuning_type == "full"
    if config.strategy in PREFERENCE_STRATEGIES:
        return UsualRange(f"{config.strategy.upper()} with {'full weights' if full else 'LoRA'}",
                          1e-7 if full else 1e-6, 1e-5 if full else 1e-3)
    return UsualRange("full fine-tuning" if full else "LoRA fine-tuning", 1e-6 if full else 1e-5, 1e-4 if full else 1e-3)


def learning_rate_warning(config: Any) -> str | None:
    """A warning when the config's learning rate is far outside the usual range; None otherwise."""
    rate, usual = config.learning_rate, usual_learning_rates(config)
    if rate > usual.high * FAR:
        return (f"The learning rate {rate:g} is far above the usual range ({usual.words()}): the loss will likely "
                "become NaN. Lower it unless you know this model needs it.")
    if rate < usual.low / FAR:
        return (f"The learning rate {rate:g} is far below the usual range ({usual.words()}): the model will barely "
                "change. Raise it unless you know this model needs it.")
    return None
