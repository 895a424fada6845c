"""``{{placeholders}}`` in a dataset's text (LLaMA-Factory's identity data has ``{{name}}`` and ``{{author}}``):
found with their rows, filled from a ``replacements`` map, and put in words when left unfilled.

Every string counts, in any column, also inside nested lists and objects (message lists). The rows are read
in batches, never all at once as Python objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..schemas.training_config import PLACEHOLDER_KEY

if TYPE_CHECKING:
    import datasets

PLACEHOLDER = re.compile(r"\{\{\s*(" + PLACEHOLDER_KEY + r")\s*\}\}")
_BATCH = 1000
SHOWN_ROWS = 10


@dataclass
class PlaceholderUse:
    """Where one placeholder key occurs: ``rows`` counts the rows holding it, ``first_rows`` are the first
    of them (1-based, at most SHOWN_ROWS)."""

    key: str
    rows: int = 0
    first_rows: list[int] = field(default_factory=list)

    def where(self) -> str:
        """``12 rows: rows 1, 2, 3 and 9 more`` (or ``1 row: row 4``)."""
        listed = ", ".join(map(str, self.first_rows))
        more = f" and {self.rows - len(self.first_rows)} more" if self.rows > len(self.first_rows) else ""
        return f"1 row: row {listed}" if self.rows == 1 else f"{self.rows} rows: rows {listed}{more}"


def find_placeholders(dataset: datasets.Dataset) -> dict[str, PlaceholderUse]:
    """Each ``{{ key }}`` in the dataset's strings -> where it occurs, keys in the order first met."""
    found: dict[str, PlaceholderUse] = {}
    columns = list(dataset.column_names)
    row = 0
    for batch in dataset.iter(batch_size=_BATCH):
        for values in zip(*(batch[col] for col in columns)):
            row += 1
            for key in dict.fromkeys(_keys_in(values)):
                use = found.setdefault(key, PlaceholderUse(key))
                use.rows += 1
                if len(use.first_rows) < SHOWN_ROWS:
                    use.first_rows.append(row)
    return found


def fill_placeholders(dataset: datasets.Dataset, replacements: dict[str, str] | None) -> datasets.Dataset:
    """``dataset`` with each ``{{ key }}`` of ``replacements`` replaced by its value in every string (nested
    too); other keys stay as they are, and so do the columns and their types. None or {} changes nothing."""
    if not replacements:
        return dataset

    def replace(match: re.Match) -> str:
        return replacements.get(match.group(1), match.group(0))

    def fill_batch(batch: dict[str, list]) -> dict[str, list]:
        return {col: [_map_strings(value, lambda text: PLACEHOLDER.sub(replace, text)) for value in values]
                for col, values in batch.items()}

    return dataset.map(fill_batch, batched=True, batch_size=_BATCH, features=dataset.features, desc="Filling placeholders")


def placeholder_warnings(uses: dict[str, PlaceholderUse], replacements: dict[str, str] | None) -> list[str]:
    """The warnings for placeholders that ``replacements`` leaves unfilled, and for its keys that occur nowhere.

    ``uses`` is what find_placeholders found in the data before filling.
    """
    replacements = replacements or {}
    warnings = []
    unfilled = [use for key, use in uses.items() if key not in replacements]
    if unfilled:
        count = "1 placeholder is" if len(unfilled) == 1 else f"{len(unfilled)} placeholders are"
        listed = ", ".join(f"{{{{{use.key}}}}} ({use.where()})" for use in unfilled)
        example = json.dumps({use.key: "..." for use in unfilled})
        warnings.append(
            f"{count} not filled and will be trained literally: {listed}. Fill them with replacements, e.g. {example}"
        )
    unused = [key for key in replacements if key not in uses]
    if unused:
        names = ", ".join(f"'{key}'" for key in unused)
        present = ", ".join(f"{{{{{key}}}}}" for key in uses) or "none"
        warnings.append(
            f"replacements names {names}, which the data never holds as {{{{key}}}}; placeholders in the data: {present}."
        )
    return warnings


def dataset_placeholder_warnings(dataset: datasets.Dataset, replacements: dict[str, str] | None = None) -> list[str]:
    """The placeholder warnings for ``dataset`` as it is (before filling): what a preview or a check shows."""
    return placeholder_warnings(find_placeholders(dataset), replacements)


def _keys_in(value: Any):
    """The placeholder keys in ``value``'s strings, nested lists and dicts included."""
    if isinstance(value, str):
        if "{{" in value:
            yield from PLACEHOLDER.findall(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _keys_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _keys_in(item)


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` with ``change`` applied to each string in it (nested lists and dicts rebuilt)."""
    if isinstance(value, str):
        return change(value) if "{{" in value else value
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    if isinstance(value, dict):
        return {name: _map_strings(item, change) for name, item in value.items()}
    return value
