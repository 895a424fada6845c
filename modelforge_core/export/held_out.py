"""The prompts an export is checked on: held-out rows of the model's own training data.

The run's evaluation split is made again from its saved settings (same file, seed and share), so the
prompts are ones the model did not train on. A run that held none out gives its first training rows;
data that is gone or no longer reads gives a few plain prompts, and the report says which it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FALLBACK_PROMPTS = ["Say hello.", "What is two plus two?", "Name a colour.", "Write one short sentence."]


@dataclass
class HeldOut:
    """Prompts as training formatted them (a chat or a text), their reference answers, and where they came from."""

    prompts: list[Any]
    answers: list[str]
    source: str


def held_out_prompts(record: dict, chat: bool, limit: int) -> HeldOut:
    """Up to ``limit`` (prompt, answer) pairs for the registered model ``record``."""
    from ..data.pipeline import load_training_splits
    from ..exceptions import ModelForgeException
    from ..schemas.training_config import TrainingConfig
    from ..tasks.text_generation import prompt_completion_pairs

    try:
        config = TrainingConfig(**{k: v for k, v in (record.get("config") or {}).items() if k in TrainingConfig.model_fields})
        splits = load_training_splits(config)
    except (ModelForgeException, ValueError, OSError) as exc:
        reason = str(exc).splitlines()[0][:200]
        return _fallback(chat, f"{len(FALLBACK_PROMPTS)} plain prompts: the training data could not be read ({reason})")
    rows, source = (splits.eval, "held-out rows of the training data (the run's evaluation split)")
    if rows is None or len(rows) == 0:
        rows, source = splits.train, "the first training rows (the run held no rows out)"
    pairs = prompt_completion_pairs(rows.select(range(min(limit, len(rows)))), chat=chat)
    if not pairs:
        return _fallback(chat, f"{len(FALLBACK_PROMPTS)} plain prompts: the training rows have no prompt to answer")
    return HeldOut([prompt for prompt, _ in pairs], [answer for _, answer in pairs], f"{len(pairs)} {source}")


def _fallback(chat: bool, source: str) -> HeldOut:
    prompts = [[{"role": "user", "content": text}] if chat else text for text in FALLBACK_PROMPTS]
    return HeldOut(prompts, ["" for _ in prompts], source)


def conversations(prompts: list[Any]) -> list[list[dict]]:
    """The chat prompts among ``prompts`` (for the Modelfile's template check)."""
    return [prompt for prompt in prompts if isinstance(prompt, list) and prompt and prompt[-1].get("role") == "user"]


def common_system_prompt(prompts: list[Any]) -> str | None:
    """The system message every chat prompt starts with, when there is one and it is the same for all."""
    systems = {prompt[0]["content"] for prompt in prompts if isinstance(prompt, list) and prompt and prompt[0].get("role") == "system"}
    chats = [prompt for prompt in prompts if isinstance(prompt, list)]
    if len(systems) == 1 and all(prompt and prompt[0].get("role") == "system" for prompt in chats):
        return systems.pop()
    return None
