"""GRPO's rule-based rewards, by the names a config gives them (``rewards``), one plain function per rule.

TRL calls each reward with the sampled ``completions`` (strings, or one assistant message each in chat format),
their token ids (``completion_ids``) and every other dataset column by name: ``reference`` is the row's reference
answer. It names the logged metrics after the function (``rewards/exact_match/mean``), so each function is named
as the user names the reward; ``reward_functions`` binds the config's settings with ``functools.partial``.

The final answer of a text (a completion, or a reference): the first group of ``reward_format_pattern`` (the whole
match when the pattern has no group) where the text matches it, else its last non-empty line, since a model that
reasons first writes its answer last, and a one-line answer is its own last line.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable
from typing import Any

from ..exceptions import ConfigurationError

DEFAULT_REWARDS = {"exact_match": 1.0}
REWARD_MODEL = "reward_model"
REFERENCE_COLUMN = "reference"
# a number as people write it: a sign, thousands commas, decimals ("-1,234.5", "72", ".5")
NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")


def completion_text(completion: str | list[dict[str, Any]]) -> str:
    """A completion as text: a string as it is, chat-format messages as their contents."""
    return completion if isinstance(completion, str) else "".join(message.get("content") or "" for message in completion)


def final_answer(text: str, pattern: re.Pattern) -> str:
    """The answer a text gives: ``pattern``'s first group (or whole match) where it matches, else its last line."""
    match = pattern.search(text)
    if match:
        return (match.group(1) if pattern.groups else match.group(0)) or ""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def last_number(text: str) -> float | None:
    """The last number written in ``text`` (thousands commas dropped), None when it has none."""
    found = NUMBER.findall(text)
    return float(found[-1].replace(",", "")) if found else None


def exact_match(completions: list, reference: list[str], pattern: re.Pattern, **_: Any) -> list[float]:
    """1.0 when the completion's final answer equals the reference's, ignoring surrounding whitespace and case."""
    return [
        float(final_answer(completion_text(c), pattern).strip().casefold() == final_answer(r, pattern).strip().casefold())
        for c, r in zip(completions, reference, strict=True)
    ]


def numeric_match(completions: list, reference: list[str], pattern: re.Pattern, tolerance: float, **_: Any) -> list[float]:
    """1.0 when the last number of the completion's final answer is within ``tolerance`` of the reference's;
    0.0 when either has no number."""
    scores = []
    for completion, answer in zip(completions, reference, strict=True):
        got, want = last_number(final_answer(completion_text(completion), pattern)), last_number(final_answer(answer, pattern))
        scores.append(float(got is not None and want is not None and abs(got - want) <= tolerance))
    return scores


def format(completions: list, pattern: re.Pattern, **_: Any) -> list[float]:  # the reward's name, as TRL logs it
    """1.0 when the completion contains a match of ``pattern`` (``^...$`` in the pattern require the whole text)."""
    return [float(pattern.search(completion_text(c)) is not None) for c in completions]


def length(completion_ids: list[list[int]], target: int, **_: Any) -> list[float]:
    """0 up to ``target`` tokens; past it -(tokens - target) / target, down to -1 at twice the target and beyond."""
    return [-min(1.0, max(0, len(ids) - target) / target) for ids in completion_ids]


RULES: dict[str, Callable[..., list[float]]] = {
    "exact_match": exact_match, "numeric_match": numeric_match, "format": format, "length": length,
}
NEEDS_REFERENCE = ("exact_match", "numeric_match")
REWARD_NAMES = (*RULES, REWARD_MODEL)


def reward_weights(config: Any) -> dict[str, float]:
    """The config's rewards by name with their weights: ``rewards`` (default exact_match), and reward_model at weight 1
    when the ``reward_model`` field is set and ``rewards`` leaves it out."""
    weights = dict(config.rewards if config.rewards is not None else DEFAULT_REWARDS)
    if config.reward_model and REWARD_MODEL not in weights:
        weights[REWARD_MODEL] = 1.0
    return weights


def check_rewards(config: Any, has_reference: bool) -> dict[str, float]:
    """``reward_weights``, refused in words (ConfigurationError) when it names no reward, a reward that does not exist,
    a reward model without the ``reward_model`` field, a reference rule for data without references, a non-finite
    weight, or a length target the answers cannot pass."""
    weights = reward_weights(config)
    valid = ", ".join(REWARD_NAMES)
    if not weights:
        raise ConfigurationError(
            "rewards names no reward: GRPO needs at least one to score the sampled answers.",
            f'Name one or more of: {valid}, with weights, e.g. {{"exact_match": 1.0}}; or leave rewards out.',
        )
    unknown = [name for name in weights if name not in REWARD_NAMES]
    if unknown:
        raise ConfigurationError(
            f"rewards names {', '.join(map(repr, unknown))}, which {'is' if len(unknown) == 1 else 'are'} not a reward "
            f"ModelForge knows. Valid rewards: {valid}.",
            'Spell each reward as listed, e.g. {"exact_match": 1.0, "format": 0.2}.',
        )
    bad = [name for name, weight in weights.items() if not isinstance(weight, (int, float)) or not math.isfinite(weight)]
    if bad:
        raise ConfigurationError(f"rewards gives {', '.join(map(repr, bad))} a weight that is not a finite number.",
                                 "Give each reward a number as its weight, e.g. 1.0 (0.2 for a side reward).")
    if REWARD_MODEL in weights and not config.reward_model:
        raise ConfigurationError(
            "rewards names 'reward_model', but the reward_model field names no reward model.",
            "Set reward_model to the reward_model folder inside an RLHF model's folder, or drop 'reward_model' from "
            "rewards.",
        )
    needing = [name for name in weights if name in NEEDS_REFERENCE]
    if needing and not has_reference:
        raise ConfigurationError(
            f"The reward{'s' if len(needing) > 1 else ''} {' and '.join(map(repr, needing))} compare{'' if len(needing) > 1 else 's'} "
            "each answer with the row's reference answer, and these rows have none.",
            "Give rows with a prompt and its answer: Alpaca (instruction, input, output), prompt and completion, or chats "
            "ending with the assistant's answer. A GSM8K-style file maps with column_mapping, e.g. "
            '{"question": "prompt", "answer": "completion"}. Or score with format, length or reward_model only.',
        )
    if "length" in weights and config.reward_length_target >= config.max_completion_length:
        raise ConfigurationError(
            f"The length reward penalises answers past reward_length_target ({config.reward_length_target} tokens), but "
            f"no answer is longer than max_completion_length ({config.max_completion_length} tokens): it would always be 0.",
            "Set reward_length_target below max_completion_length, or drop 'length' from rewards.",
        )
    return weights


def reward_functions(config: Any, names: list[str]) -> list[Callable[..., list[float]]]:
    """The rule rewards among ``names`` (reward_model excluded), bound to the config's pattern, tolerance and target;
    each keeps its rule's name, which TRL logs."""
    pattern = re.compile(config.reward_format_pattern, re.DOTALL)
    settings = {"pattern": pattern, "tolerance": config.reward_tolerance, "target": config.reward_length_target}
    return [functools.partial(RULES[name], **_settings_of(RULES[name], settings)) for name in names if name in RULES]


def _settings_of(rule: Callable, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings ``rule`` takes by name."""
    parameters = inspect.signature(rule).parameters
    return {key: value for key, value in settings.items() if key in parameters}
