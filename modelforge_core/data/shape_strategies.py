"""Which strategies train a record shape, and the words that refuse a shape a strategy cannot train.

Run validation, the dataset preview and the dataset check say the same sentences, from here. The
strategy classes are read from ``StrategyFactory`` when a function is called, not at import.
"""

from __future__ import annotations

from ..exceptions import DatasetValidationError
from ..schemas.tasks import PREFERENCE_PAIR_SHAPES
from .formats import SHAPE_WORDS, RecordShape

NO_STRATEGY = "No strategy in this version trains this data."
KTO_NEEDS = (
    "it needs a chat with a true/false label (is the answer desirable?), or preference pairs (a prompt, a chosen and "
    "a rejected answer)"
)

GRPO_NEEDS = (
    "it scores each sampled answer against the row's one reference answer, so it needs a prompt with its answer "
    "(instruction/input/output, prompt/completion, or a chat ending with the assistant's answer)"
)


def strategies_for_shape(shape: RecordShape, task: str | None = None) -> list[str]:
    """The registered strategies whose ``accepted_shapes`` hold ``shape`` (and that train ``task``, when given),
    in registration order."""
    from ..strategies.strategy_factory import StrategyFactory

    shape = RecordShape(shape)
    classes = {name: StrategyFactory.get_class(name) for name in StrategyFactory.names()}
    return [
        name for name, cls in classes.items()
        if shape in cls.accepted_shapes and (task is None or task in cls.supported_tasks)
    ]


def trained_by_in_words(shape: RecordShape, task: str | None = None) -> str:
    """Which strategies train ``shape``, as a sentence, e.g. ``Trained by strategy 'dpo' or 'rlhf'.``"""
    names = strategies_for_shape(shape, task)
    if names:
        return f"Trained by strategy {_either(names)}."
    return NO_STRATEGY


def shape_refusal(shape: RecordShape, strategy: str | None, task: str | None = None) -> DatasetValidationError | None:
    """The error (not raised) saying that ``strategy`` cannot train records of ``shape``, and which strategies would;
    None when it can. Without a strategy (a preview before one is picked): the error when no strategy trains the
    shape (for ``task``, when given). Raises ConfigurationError for an unknown strategy.

    The message starts in lower case, to follow ``"<dataset>: "``.
    """
    from ..strategies.strategy_factory import StrategyFactory

    shape = RecordShape(shape)
    names = strategies_for_shape(shape, task)
    what = f"records of shape '{shape.value}' ({SHAPE_WORDS[shape]})"
    if strategy is None:
        return None if names else DatasetValidationError(f"{what} cannot train any strategy of this version.", NO_STRATEGY)
    cls = StrategyFactory.get_class(strategy)
    if shape in cls.accepted_shapes:
        return None
    why = _why_not(shape, set(cls.accepted_shapes), rewarded="rewards" in cls.settings)
    message = f"{what} cannot train strategy '{strategy}'" + (f": {why}." if why else ".")
    if names:
        verb = "trains" if len(names) == 1 else "train"
        return DatasetValidationError(message, f"Pick strategy {_either(names)}, which {verb} {SHAPE_WORDS[shape]}.")
    return DatasetValidationError(message, NO_STRATEGY)


def _why_not(shape: RecordShape, accepted: set[RecordShape], rewarded: bool) -> str:
    """Why a strategy that trains the ``accepted`` shapes cannot train ``shape``, or "" when nothing more is to say.
    ``rewarded``: the strategy scores sampled answers with rewards against a reference answer (GRPO)."""
    pair_strategy = accepted <= set(PREFERENCE_PAIR_SHAPES)
    if rewarded:
        return GRPO_NEEDS
    if RecordShape.KTO in accepted:
        return KTO_NEEDS
    if shape is RecordShape.KTO:
        if pair_strategy:
            return "it needs a chosen and a rejected answer to the same prompt, and these rows have one answer with a label"
        return "supervised fine-tuning would learn the undesirable answers too"
    if shape in PREFERENCE_PAIR_SHAPES and not pair_strategy:
        return "supervised fine-tuning learns one answer per prompt and would ignore the choice between the two"
    if pair_strategy:
        return "it learns from a chosen and a rejected answer to each prompt, which these rows do not have"
    return ""


def _either(names: list[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
