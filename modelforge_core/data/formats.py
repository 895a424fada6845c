"""Record shapes: which columns a dataset has and what they mean (the tasks each serves: schemas/tasks.py;
the strategies that train each: data/shape_strategies.py).

``detect_shape`` reads the column names only; ``apply_column_mapping`` renames a user's columns to
the fields a shape expects. Importing this module does not import ``datasets``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING

from ..exceptions import DatasetValidationError

if TYPE_CHECKING:
    import datasets


class RecordShape(str, Enum):
    """The layouts of a training row that ModelForge understands."""

    MODELFORGE = "modelforge"  # input, output
    ALPACA = "alpaca"  # instruction, input (optional), output
    PROMPT_COMPLETION = "prompt_completion"  # prompt, completion
    CONVERSATIONAL = "conversational"  # messages: [{role, content}]
    SHAREGPT = "sharegpt"  # conversations: [{from, value}]
    TEXT = "text"  # text
    PREFERENCE = "preference"  # prompt, chosen, rejected (strings or message lists)
    CONVERSATIONAL_PREFERENCE = "conversational_preference"  # messages (the prompt turns), chosen, rejected
    SHAREGPT_PREFERENCE = "sharegpt_preference"  # conversations (the prompt turns), chosen, rejected
    KTO = "kto"  # messages | conversations | prompt + completion, and a true/false label (unpaired preference)
    CONVERSATIONAL_TOOLS = "conversational_tools"  # messages with tool_calls and tool turns, tools (definitions)
    SHAREGPT_TOOLS = "sharegpt_tools"  # conversations with function_call and observation turns, tools
    SUMMARIZATION = "summarization"  # document | article | text, summary
    EXTRACTIVE_QA = "extractive_qa"  # context, question, answers (SQuAD) | answer (string in context)


# Canonical field names. Where a shape accepts several column names for one field,
# FIELD_ALTERNATIVES lists them (first match wins) and ``resolve_fields`` picks the present one.
REQUIRED_FIELDS: dict[RecordShape, tuple[str, ...]] = {
    RecordShape.MODELFORGE: ("input", "output"),
    RecordShape.ALPACA: ("instruction", "output"),
    RecordShape.PROMPT_COMPLETION: ("prompt", "completion"),
    RecordShape.CONVERSATIONAL: ("messages",),
    RecordShape.SHAREGPT: ("conversations",),
    RecordShape.TEXT: ("text",),
    RecordShape.PREFERENCE: ("prompt", "chosen", "rejected"),
    RecordShape.CONVERSATIONAL_PREFERENCE: ("messages", "chosen", "rejected"),
    RecordShape.SHAREGPT_PREFERENCE: ("conversations", "chosen", "rejected"),
    RecordShape.KTO: ("chat", "label"),
    RecordShape.CONVERSATIONAL_TOOLS: ("messages", "tools"),
    RecordShape.SHAREGPT_TOOLS: ("conversations", "tools"),
    RecordShape.SUMMARIZATION: ("document", "summary"),
    RecordShape.EXTRACTIVE_QA: ("context", "question", "answers"),
}

OPTIONAL_FIELDS: dict[RecordShape, tuple[str, ...]] = {shape: () for shape in RecordShape}
OPTIONAL_FIELDS[RecordShape.ALPACA] = ("input",)

FIELD_ALTERNATIVES: dict[RecordShape, dict[str, tuple[str, ...]]] = {
    RecordShape.SUMMARIZATION: {"document": ("document", "article", "text")},
    RecordShape.EXTRACTIVE_QA: {"answers": ("answers", "answer")},
    RecordShape.KTO: {"chat": ("messages", "conversations", "prompt"), "label": ("label", "kto_tag")},
}
# A column that holds a field only together with others: KTO's chat is a 'prompt' only beside a 'completion'.
COMPANION_COLUMNS: dict[RecordShape, dict[str, tuple[str, ...]]] = {
    RecordShape.KTO: {"prompt": ("completion",)},
}

# Detection order: the first shape whose fields are all present wins.
# Pairs and labelled chats come before the supervised shapes whose columns they contain; a 'tools'
# column makes a chat a tool-calling chat.
DETECTION_ORDER: tuple[RecordShape, ...] = (
    RecordShape.PREFERENCE,
    RecordShape.CONVERSATIONAL_PREFERENCE,
    RecordShape.SHAREGPT_PREFERENCE,
    RecordShape.EXTRACTIVE_QA,
    RecordShape.SUMMARIZATION,
    RecordShape.KTO,
    RecordShape.CONVERSATIONAL_TOOLS,
    RecordShape.SHAREGPT_TOOLS,
    RecordShape.CONVERSATIONAL,
    RecordShape.SHAREGPT,
    RecordShape.PROMPT_COMPLETION,
    RecordShape.ALPACA,
    RecordShape.MODELFORGE,
    RecordShape.TEXT,
)


# What each shape is, for people: shape_in_words adds its fields.
SHAPE_WORDS: dict[RecordShape, str] = {
    RecordShape.MODELFORGE: "inputs and outputs",
    RecordShape.ALPACA: "Alpaca-style instructions and answers",
    RecordShape.PROMPT_COMPLETION: "prompts and completions",
    RecordShape.CONVERSATIONAL: "chats as role/content messages",
    RecordShape.SHAREGPT: "ShareGPT-style chats",
    RecordShape.TEXT: "plain text",
    RecordShape.PREFERENCE: "preference pairs",
    RecordShape.CONVERSATIONAL_PREFERENCE: "preference pairs in messages style",
    RecordShape.SHAREGPT_PREFERENCE: "ShareGPT-style preference pairs",
    RecordShape.KTO: "a chat with a desirable/undesirable label",
    RecordShape.CONVERSATIONAL_TOOLS: "tool-calling chats as OpenAI-style messages",
    RecordShape.SHAREGPT_TOOLS: "ShareGPT-style tool-calling chats",
    RecordShape.SUMMARIZATION: "documents and their summaries",
    RecordShape.EXTRACTIVE_QA: "questions with answer spans in a context",
}


def shape_fields(shape: RecordShape) -> str:
    """The shape's columns in words, e.g. ``instruction, output; optional: input`` (``a | b``: either column)."""
    parts = []
    for name in REQUIRED_FIELDS[shape]:
        options = FIELD_ALTERNATIVES.get(shape, {}).get(name)
        companions = COMPANION_COLUMNS.get(shape, {})
        parts.append(" | ".join(" + ".join((col, *companions.get(col, ()))) for col in options) if options else name)
    text = ", ".join(parts)
    return f"{text}; optional: {', '.join(OPTIONAL_FIELDS[shape])}" if OPTIONAL_FIELDS[shape] else text


def describe_shape(shape: RecordShape) -> str:
    """The shape's name and fields, e.g. ``alpaca (instruction, output; optional: input)``."""
    return f"{shape.value} ({shape_fields(shape)})"


def shape_in_words(shape: RecordShape) -> str:
    """What the shape is, for people, with its fields, e.g. ``ShareGPT-style preference pairs (conversations,
    chosen, rejected)``."""
    shape = RecordShape(shape)
    return f"{SHAPE_WORDS[shape]} ({shape_fields(shape)})"


def resolve_fields(shape: RecordShape, column_names: Sequence[str]) -> dict[str, str | None]:
    """Map each required field of ``shape`` to the column that holds it (None when absent).

    A column with companions (COMPANION_COLUMNS) holds the field only when its companions are present too.
    """
    present = set(column_names)
    companions = COMPANION_COLUMNS.get(shape, {})
    resolved: dict[str, str | None] = {}
    for name in REQUIRED_FIELDS[shape]:
        options = FIELD_ALTERNATIVES.get(shape, {}).get(name, (name,))
        resolved[name] = next(
            (col for col in options if col in present and present.issuperset(companions.get(col, ()))), None
        )
    return resolved


def refuse_duplicate_columns(names: Sequence[str], where: str) -> None:
    """Raise naming each column that ``names`` holds more than once, with its 1-based positions.

    ``where`` starts the message, e.g. ``"data.csv: the header names"``.
    """
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(names, start=1):
        positions.setdefault(name, []).append(number)
    repeated = {name: found for name, found in positions.items() if len(found) > 1}
    if not repeated:
        return
    times = {2: "twice", 3: "three times"}
    parts = [
        f"the column '{name}' {times.get(len(found), f'{len(found)} times')} "
        f"(columns {', '.join(map(str, found[:-1]))} and {found[-1]})"
        for name, found in repeated.items()
    ]
    raise DatasetValidationError(
        f"{where} {'; '.join(parts)}.",
        "Give every column its own name: rename or remove the extra column(s), then load the file again.",
    )


def detect_shape(column_names: Sequence[str]) -> RecordShape:
    """The first shape in DETECTION_ORDER whose required fields are all present.

    Raises DatasetValidationError naming the columns found and the shapes known.
    """
    for shape in DETECTION_ORDER:
        if all(resolve_fields(shape, column_names).values()):
            return shape
    found = ", ".join(column_names) if column_names else "none"
    known = "; ".join(describe_shape(shape) for shape in DETECTION_ORDER)
    raise DatasetValidationError(
        f"Cannot tell the dataset's format from its columns ({found}). Known formats: {known}.",
        "Rename your columns with column_mapping, e.g. {'question': 'instruction', 'answer': 'output'}.",
    )


def apply_column_mapping(dataset: datasets.Dataset, mapping: dict[str, str] | None) -> datasets.Dataset:
    """Rename columns ``{source_col: target_field}``; None or {} leaves the dataset as it is.

    Raises DatasetValidationError for an unknown source column (listing the columns present) or
    for a mapping that would leave two columns with the same name.
    """
    if not mapping:
        return dataset
    columns = list(dataset.column_names)
    unknown = [src for src in mapping if src not in columns]
    if unknown:
        raise DatasetValidationError(
            f"column_mapping names column(s) {', '.join(map(repr, unknown))} that the dataset does not have. "
            f"Columns present: {', '.join(columns)}.",
            "Use the column names exactly as they appear in the file (they are case-sensitive).",
        )
    empty = [src for src, target in mapping.items() if not isinstance(target, str) or not target.strip()]
    if empty:
        raise DatasetValidationError(
            f"column_mapping gives no target field for {', '.join(map(repr, empty))}.",
            "Map each column to a field name, e.g. {'question': 'instruction'}.",
        )
    renames = {src: target for src, target in mapping.items() if src != target}
    new_names = [renames.get(col, col) for col in columns]
    clashes = sorted({name for name in new_names if new_names.count(name) > 1})
    if clashes:
        raise DatasetValidationError(
            f"column_mapping would create duplicate column(s) {', '.join(map(repr, clashes))}. "
            f"Columns present: {', '.join(columns)}.",
            "Map the existing column of that name to another name too, or drop it from the file.",
        )
    return dataset.rename_columns(renames) if renames else dataset
