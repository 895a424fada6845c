"""Hold out part of a dataset for evaluation, reproducibly, and count eval rows that copy training rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import ConfigurationError, DatasetValidationError
from .dataset_validator import row_fingerprints

if TYPE_CHECKING:
    import datasets


def train_eval_split(
    dataset: datasets.Dataset, eval_split: float, seed: int
) -> tuple[datasets.Dataset, datasets.Dataset | None]:
    """Shuffle with ``seed`` and hold out ``eval_split`` of the rows (at least one) for evaluation.

    ``eval_split == 0`` returns ``(dataset, None)``. Raises ConfigurationError for a share outside
    [0, 1) and DatasetValidationError when either side would be left without a row.
    """
    if not 0.0 <= eval_split < 1.0:
        raise ConfigurationError(
            f"eval_split must be in [0, 1), got {eval_split}.", "Use e.g. 0.1 to hold out 10% of the rows, or 0."
        )
    if eval_split == 0:
        return dataset, None
    total = len(dataset)
    num_eval = max(1, round(total * eval_split))
    if total - num_eval < 1:
        raise DatasetValidationError(
            f"The dataset has {total} row(s): holding out {eval_split:.0%} for evaluation leaves no row to train on.",
            "Add rows (at least 2 are needed to split), lower eval_split, or set eval_split to 0.",
        )
    parts = dataset.train_test_split(test_size=num_eval, shuffle=True, seed=seed)
    return parts["train"], parts["test"]


def eval_rows_in_training(train: datasets.Dataset, evaluation: datasets.Dataset) -> int:
    """How many eval rows have the same content (all columns) as some training row."""
    in_training = set(row_fingerprints(train))
    return sum(fingerprint in in_training for fingerprint in row_fingerprints(evaluation))


def shared_rows_warning(count: int) -> str:
    """The warning for ``count`` eval rows that also appear in the training rows."""
    rows = "1 eval row also appears" if count == 1 else f"{count} eval rows also appear"
    return (
        f"{rows} in the training rows, so the eval loss partly measures rows the model trained on. "
        "Turn on drop_duplicates ('Drop duplicate rows') to keep the two apart."
    )
