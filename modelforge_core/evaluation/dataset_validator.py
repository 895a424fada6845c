"""Check a loaded dataset against its record shape, row by row, before any training starts.

``DatasetValidator.validate`` returns a ``ValidationReport`` listing every problem with its 1-based
row number and field; ``ValidationReport.raise_if_invalid`` turns it into a DatasetValidationError.
Warnings (rows that repeat an earlier row) are kept apart from the problems: they never block a run.
Chats (turns, tool calls, pairs, KTO labels) are checked by ``chat_checks``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..data.formats import OPTIONAL_FIELDS, RecordShape, describe_shape, resolve_fields
from ..data.kto_labels import label_counts, one_class_error
from ..data.loading import type_in_words
from ..exceptions import DatasetValidationError
from .chat_checks import SHAPE_CHECKS, Check, kto_checks, text_problem

if TYPE_CHECKING:
    import datasets
    import numpy as np

_BATCH = 1000


@dataclass
class ValidationIssue:
    """One problem: ``row`` is 1-based (None for the whole dataset), ``field`` the column."""

    row: int | None
    field: str | None
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        where += [f"field '{self.field}'"] if self.field else []
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class ValidationReport:
    """What the validator found; ``total_issues`` also counts issues beyond those kept in ``issues``.

    ``warnings`` are said but do not block; ``repeated_rows`` are the 1-based rows equal to an earlier row.
    """

    source: str
    shape: RecordShape | None
    num_rows: int
    columns: list[str]
    issues: list[ValidationIssue] = field(default_factory=list)
    total_issues: int = 0
    warnings: list[str] = field(default_factory=list)
    repeated_rows: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.total_issues = max(self.total_issues, len(self.issues))

    @property
    def ok(self) -> bool:
        return self.total_issues == 0

    def summary(self, max_lines: int = 10) -> str:
        """Several human-readable lines: the dataset, then the first issues with their rows."""
        shape = self.shape.value if self.shape else "unknown"
        lines = [f"{self.source}: {self.num_rows} rows, format {shape}, columns: {', '.join(self.columns) or 'none'}."]
        if self.ok:
            lines.append("No problems found.")
        else:
            lines.append(f"{self.total_issues} problem(s) found:")
            lines += [f"  - {issue}" for issue in self.issues[:max_lines]]
            if self.total_issues > min(max_lines, len(self.issues)):
                lines.append(f"  ... and {self.total_issues - min(max_lines, len(self.issues))} more.")
        lines += [f"Warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)

    def raise_if_invalid(self) -> None:
        """Raise DatasetValidationError naming the source and the first rows and fields at fault."""
        if self.ok:
            return
        shown = "; ".join(str(issue) for issue in self.issues[:5])
        more = f" (and {self.total_issues - 5} more)" if self.total_issues > 5 else ""
        hints = list(dict.fromkeys(issue.hint for issue in self.issues if issue.hint))
        raise DatasetValidationError(
            f"{self.source}: {self.total_issues} problem(s): {shown}{more}.",
            " ".join(hints[:2]) or None,
        )


class DatasetValidator:
    """Checks row count, required fields, and each row's values for a record shape."""

    def __init__(self, min_rows: int = 10, max_reported: int = 20):
        self.min_rows = min_rows
        self.max_reported = max_reported

    def validate(self, dataset: datasets.Dataset, shape: RecordShape, source: str = "dataset") -> ValidationReport:
        """Every problem of ``dataset`` read as ``shape``; never raises for bad data."""
        shape = RecordShape(shape)
        columns = list(dataset.column_names)
        report = ValidationReport(source=source, shape=shape, num_rows=len(dataset), columns=columns)
        for issue in self._issues(dataset, shape, columns):
            report.total_issues += 1
            if len(report.issues) < self.max_reported:
                report.issues.append(issue)
        report.repeated_rows = [index + 1 for index in repeated_row_indices(row_fingerprints(dataset))]
        if report.repeated_rows:
            report.warnings.append(repeated_rows_warning(report.repeated_rows))
        return report

    def _issues(self, dataset: datasets.Dataset, shape: RecordShape, columns: list[str]) -> Iterator[ValidationIssue]:
        if len(dataset) < self.min_rows:
            yield ValidationIssue(
                None,
                None,
                f"the dataset has {len(dataset)} row(s); at least {self.min_rows} are needed",
                f"Add rows until there are at least {self.min_rows}.",
            )
        resolved = resolve_fields(shape, columns)
        missing = [name for name, col in resolved.items() if col is None]
        for name in missing:
            yield ValidationIssue(
                None,
                name,
                f"required column missing for {describe_shape(shape)}; columns present: {', '.join(columns) or 'none'}",
                "Rename your columns to the expected fields with column_mapping.",
            )
        if shape is RecordShape.KTO and resolved.get("label"):
            yield from _one_class_issue(dataset, resolved["label"])
        checks = _row_checks(shape, resolved)
        checked = [col for col in checks if col in columns]
        if not checked:
            return
        offset = 0
        for batch in dataset.select_columns(checked).iter(batch_size=_BATCH):
            size = len(next(iter(batch.values())))
            for i in range(size):
                row = {col: batch[col][i] for col in batch}
                for col in checked:
                    problem = checks[col](row[col], row)
                    if problem:
                        message, hint = problem if isinstance(problem, tuple) else (problem, _ROW_HINT)
                        yield ValidationIssue(offset + i + 1, col, message, hint)
            offset += size


def _one_class_issue(dataset: datasets.Dataset, column: str) -> Iterator[ValidationIssue]:
    """KTO rows whose true/false labels are all one class (the rows with another value are named by the row checks)."""
    labels = [value for value in dataset[column] if isinstance(value, bool)]
    refusal = one_class_error(*label_counts(labels)) if labels else None
    if refusal:
        yield ValidationIssue(None, column, refusal.message, refusal.hint)


def row_fingerprints(dataset: datasets.Dataset) -> np.ndarray:
    """One 64-bit digest per row of all its columns' content (lists and objects by their JSON text): equal rows, equal
    digests. A numpy array (8 bytes a row), so that a million rows cost 8 MB."""
    import numpy as np

    columns = list(dataset.column_names)
    fingerprints = np.empty(len(dataset), dtype=np.uint64)
    index = 0
    for batch in dataset.iter(batch_size=_BATCH):
        for values in zip(*(batch[col] for col in columns)):
            text = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
            fingerprints[index] = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
            index += 1
    return fingerprints


def repeated_row_indices(fingerprints: np.ndarray) -> list[int]:
    """The 0-based indices of the rows whose content equals an earlier row's (the first of each stays out)."""
    import numpy as np

    _, first = np.unique(fingerprints, return_index=True)
    repeated = np.ones(len(fingerprints), dtype=bool)
    repeated[first] = False
    return np.flatnonzero(repeated).tolist()


def row_list(rows: list[int], shown: int = 10) -> str:
    """``row 4`` or ``rows 4, 7, 9`` (the first ``shown``, then how many more)."""
    text = ", ".join(map(str, rows[:shown])) + (f" and {len(rows) - shown} more" if len(rows) > shown else "")
    return f"row {text}" if len(rows) == 1 else f"rows {text}"


def repeated_rows_warning(rows: list[int]) -> str:
    """The warning for the 1-based ``rows`` that repeat an earlier row."""
    count = "1 row repeats" if len(rows) == 1 else f"{len(rows)} rows repeat"
    return (
        f"{count} an earlier row ({row_list(rows)}): repeats weigh more in training and can end up in both the "
        "training and the eval rows. Turn on drop_duplicates ('Drop duplicate rows') to drop them before the split."
    )


_ROW_HINT = "Fix or remove the rows named (row 1 is the first data row), then load the dataset again."
def _row_checks(shape: RecordShape, resolved: dict[str, str | None]) -> dict[str, Check]:
    """Column -> check(value, row) returning a problem in words, or None."""
    checks: dict[str, Check] = {col: _text_check for col in resolved.values() if col is not None}
    checks.update({name: _optional_text_check for name in OPTIONAL_FIELDS[shape]})
    checks.update(SHAPE_CHECKS.get(shape, {}))
    if shape is RecordShape.KTO:
        checks.update(kto_checks(resolved))
    elif shape is RecordShape.EXTRACTIVE_QA and resolved["answers"]:
        checks[resolved["answers"]] = _answers_check if resolved["answers"] == "answers" else _answer_check
    return checks


def _text_check(value: Any, row: dict[str, Any]) -> str | None:
    return text_problem(value)


def _optional_text_check(value: Any, row: dict[str, Any]) -> str | None:
    return None if value is None or isinstance(value, str) else text_problem(value)


def _answers_check(value: Any, row: dict[str, Any]) -> str | None:
    return _answers_problem(value, row.get("context"))


def _answer_check(value: Any, row: dict[str, Any]) -> str | None:
    problem = text_problem(value)
    context = row.get("context")
    if not problem and isinstance(context, str) and value not in context:
        return "does not occur in 'context'; it must be copied exactly from the context"
    return problem


def _answers_problem(value: Any, context: Any) -> str | None:
    expected = 'expected a SQuAD-style object {"text": [...], "answer_start": [...]}'
    if not isinstance(value, dict) or not isinstance(value.get("text"), list) or not isinstance(
        value.get("answer_start"), list
    ):
        return f"{expected}, got {type_in_words(value)}"
    texts, starts = value["text"], value["answer_start"]
    if len(texts) != len(starts):
        return f"has {len(texts)} text(s) but {len(starts)} answer_start value(s); they must pair up"
    for number, (text, start) in enumerate(zip(texts, starts), start=1):
        if not isinstance(text, str) or not text.strip():
            return f"answer {number}: text must be a non-empty string"
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            return f"answer {number}: answer_start must be a non-negative integer, got {start!r}"
        if isinstance(context, str) and context[start : start + len(text)] != text:
            found = context.find(text)
            where = f"it occurs at {found}" if found >= 0 else "it does not occur in the context"
            return f"answer {number}: context at answer_start {start} is not {text!r} ({where})"
    return None
