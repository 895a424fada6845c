"""JSON values in words, and the row where a column stops converting to one Arrow type.

Shared by the reader that builds a table from all rows at once (``loading``) and the one that
writes large files to Arrow in batches (``arrow_cache``), so both name a type that changes between
rows with the same words. Importing this module does not import ``pyarrow``.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import DatasetValidationError

_HINT_TYPES = (
    "A field must hold the same type in every row: e.g. quote numbers to make them text, "
    "and give lists and objects the same layout everywhere."
)


def type_in_words(value: Any) -> str:
    """A JSON value's type in words, for messages: ``null``, ``true/false``, ``a number``, ``a string``, ``a list``, ``an object``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def type_change_error(source: str, row: int, column: str, before: Any, value: Any) -> DatasetValidationError:
    """The error for 1-based ``row`` whose ``column`` holds ``value`` where earlier rows held values like ``before``
    (None: no earlier value is known)."""
    expected = type_in_words(before) if before is not None else "another type"
    return DatasetValidationError(
        f"{source}, row {row}, field '{column}': expected {expected} like the rows before it, got {type_in_words(value)}.",
        _HINT_TYPES,
    )


def first_unconvertible_row(values: list[Any]) -> int | None:
    """Index of the first value that makes ``values`` fail to convert to one Arrow array, or None."""
    import pyarrow as pa

    def converts(count: int) -> bool:
        try:
            pa.array(values[:count])
            return True
        except (pa.ArrowException, TypeError, ValueError):
            return False

    if converts(len(values)):
        return None
    low, high = 1, len(values)  # values[:high] fails; find the shortest failing prefix
    while low < high:
        mid = (low + high) // 2
        if converts(mid):
            low = mid + 1
        else:
            high = mid
    return high - 1


def first_value(values: list[Any]) -> Any:
    """The first value that is not None (None when all are)."""
    return next((value for value in values if value is not None), None)
