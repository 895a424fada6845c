"""Record shapes: which columns a dataset has and what they mean (the tasks each serves: schemas/tasks.py).

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
    RecordShape.SUMMARIZATION: ("document", "summary"),
    RecordShape.EXTRACTIVE_QA: ("context", "question", "answers"),
}

OPTIONAL_FIELDS: dict[RecordShape, tuple[str, ...]] = {
    RecordShape.MODELFORGE: (),
    RecordShape.ALPACA: ("input",),
    RecordShape.PROMPT_COMPLETION: (),
    RecordShape.CONVERSATIONAL: (),
    RecordShape.SHAREGPT: (),
    RecordShape.TEXT: (),
    RecordShape.PREFERENCE: (),
    RecordShape.SUMMARIZATION: (),
    RecordShape.EXTRACTIVE_QA: (),
}

FIELD_ALTERNATIVES: dict[RecordShape, dict[str, tuple[str, ...]]] = {
    RecordShape.SUMMARIZATION: {"document": ("document", "article", "text")},
    RecordShape.EXTRACTIVE_QA: {"answers": ("answers", "answer")},
}

# Detection order: the first shape whose fields are all present wins.
DETECTION_ORDER: tuple[RecordShape, ...] = (
    RecordShape.PREFERENCE,
    RecordShape.EXTRACTIVE_QA,
    RecordShape.SUMMARIZATION,
    RecordShape.CONVERSATIONAL,
    RecordShape.SHAREGPT,
    RecordShape.PROMPT_COMPLETION,
    RecordShape.ALPACA,
    RecordShape.MODELFORGE,
    RecordShape.TEXT,
)


def describe_shape(shape: RecordShape) -> str:
    """The shape's fields in words, e.g. ``alpaca (instruction, output; optional: input)``."""
    parts = []
    for name in REQUIRED_FIELDS[shape]:
        options = FIELD_ALTERNATIVES.get(shape, {}).get(name)
        parts.append(" | ".join(options) if options else name)
    text = f"{shape.value} ({', '.join(parts)}"
    if OPTIONAL_FIELDS[shape]:
        text += f"; optional: {', '.join(OPTIONAL_FIELDS[shape])}"
    return text + ")"


def resolve_fields(shape: RecordShape, column_names: Sequence[str]) -> dict[str, str | None]:
    """Map each required field of ``shape`` to the column that holds it (None when absent)."""
    present = set(column_names)
    resolved: dict[str, str | None] = {}
    for name in REQUIRED_FIELDS[shape]:
        options = FIELD_ALTERNATIVES.get(shape, {}).get(name, (name,))
        resolved[name] = next((col for col in options if col in present), None)
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
