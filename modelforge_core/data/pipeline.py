"""One call from a dataset source to a validated ``datasets.Dataset`` with its record shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..evaluation.dataset_validator import DatasetValidator, ValidationReport
from ..exceptions import ConfigurationError, DatasetValidationError
from ..schemas.tasks import TASK_TABLE, TASKS
from .formats import RecordShape, apply_column_mapping, detect_shape
from .loading import load_dataset_source

if TYPE_CHECKING:
    import datasets


@dataclass
class LoadedDataset:
    """A dataset that passed validation, its detected shape, and the validation report."""

    dataset: datasets.Dataset
    shape: RecordShape
    report: ValidationReport


def load_validated_dataset(
    source: str,
    *,
    task: str,
    split: str = "train",
    column_mapping: dict | None = None,
    min_rows: int = 10,
) -> LoadedDataset:
    """Load, map columns, detect the shape, check it serves the task (its TASK_TABLE shapes; else DatasetValidationError naming the shapes the task accepts), validate; raise on problems.

    Raises ConfigurationError for an unknown task and DatasetValidationError for any data problem.
    """
    facts = TASK_TABLE.get(task)
    if facts is None:
        raise ConfigurationError(f"Unknown task '{task}'.", f"Use one of: {', '.join(TASKS)}.")
    dataset = load_dataset_source(source, split=split)
    try:
        dataset = apply_column_mapping(dataset, column_mapping)
        shape = detect_shape(dataset.column_names)
    except DatasetValidationError as err:
        raise DatasetValidationError(f"{source}: {err.message}", err.hint) from None
    if shape not in facts.shapes:
        raise DatasetValidationError(
            f"{source}: the columns ({', '.join(dataset.column_names)}) are {shape.value} data, which task "
            f"'{task}' cannot train on. It accepts: {', '.join(s.value for s in facts.shapes)}.",
            "Pick the task that fits the data, or rename the columns with column_mapping.",
        )
    report = DatasetValidator(min_rows=min_rows).validate(dataset, shape, source=source)
    report.raise_if_invalid()
    return LoadedDataset(dataset=dataset, shape=shape, report=report)
