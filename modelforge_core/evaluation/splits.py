"""Hold out part of a dataset for evaluation, reproducibly, stratified by a column of classes when there is one,
and count eval rows that copy training rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..data.formats import COMPANION_COLUMNS, FIELD_ALTERNATIVES, OPTIONAL_FIELDS, REQUIRED_FIELDS, RecordShape
from ..exceptions import ConfigurationError, DatasetValidationError
from .dataset_validator import row_fingerprints

if TYPE_CHECKING:
    import datasets

_BATCH = 1000
MAX_LABEL_CLASSES = 20  # a label-like column has 2..min(MAX_LABEL_CLASSES, rows // 2) values
MAX_LABEL_CHARS = 40  # ... each at most this long
_LABEL_DTYPES = ("string", "large_string", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


class SplitIndices(NamedTuple):
    """The 0-based rows that go to training and to evaluation, each list in a seeded random order."""

    train: list[int]
    eval: list[int]


def eval_row_count(num_rows: int, eval_split: float) -> int:
    """How many rows ``eval_split`` holds out of ``num_rows``: at least one, 0 for a share of 0.

    Raises ConfigurationError for a share outside [0, 1) and DatasetValidationError when either side would be
    left without a row.
    """
    if not 0.0 <= eval_split < 1.0:
        raise ConfigurationError(
            f"eval_split must be in [0, 1), got {eval_split}.", "Use e.g. 0.1 to hold out 10% of the rows, or 0."
        )
    if eval_split == 0:
        return 0
    num_eval = max(1, round(num_rows * eval_split))
    if num_rows - num_eval < 1:
        raise DatasetValidationError(
            f"The dataset has {num_rows} row(s): holding out {eval_split:.0%} for evaluation leaves no row to train on.",
            "Add rows (at least 2 are needed to split), lower eval_split, or set eval_split to 0.",
        )
    return num_eval


def split_indices(
    num_rows: int, classes: Sequence[Hashable] | None, eval_split: float, seed: int
) -> SplitIndices:
    """Which rows train and which evaluate, from the row count and each row's class alone (no rows needed).

    ``classes`` None: the rows ``datasets.Dataset.train_test_split(test_size=..., shuffle=True, seed=seed)``
    picks. Otherwise each class gets its share of the eval rows within one row (largest remainder; ties go to
    the class met first in the seeded shuffle), its rows picked in that shuffle's order. Raises as
    eval_row_count does, and ValueError when ``classes`` does not have one class per row.
    """
    num_eval = eval_row_count(num_rows, eval_split)
    if classes is not None and len(classes) != num_rows:
        raise ValueError(f"{len(classes)} classes given for {num_rows} rows")
    permutation = np.random.default_rng(seed).permutation(num_rows).tolist()
    if classes is None:
        return SplitIndices(permutation[num_eval:], permutation[:num_eval])
    quota = _eval_quota([classes[index] for index in permutation], num_eval)
    train, evaluation = [], []
    for index in permutation:
        cls = classes[index]
        if quota[cls]:
            quota[cls] -= 1
            evaluation.append(index)
        else:
            train.append(index)
    return SplitIndices(train, evaluation)


def _eval_quota(shuffled_classes: list[Hashable], num_eval: int) -> dict[Hashable, int]:
    """Eval rows per class: the floor of each exact share, then one more for the largest remainders."""
    counts = Counter(shuffled_classes)  # keeps the order classes are first met in the shuffle
    total = len(shuffled_classes)
    quota = {cls: count * num_eval // total for cls, count in counts.items()}
    by_remainder = sorted(counts, key=lambda cls: -(counts[cls] * num_eval % total))  # stable: ties keep shuffle order
    for cls in by_remainder[: num_eval - sum(quota.values())]:
        quota[cls] += 1
    return quota


def train_eval_split(
    dataset: datasets.Dataset, eval_split: float, seed: int, *, stratify_by: str | None = None
) -> tuple[datasets.Dataset, datasets.Dataset | None]:
    """Shuffle with ``seed`` and hold out ``eval_split`` of the rows (at least one) for evaluation; with
    ``stratify_by``, each class of that column keeps its share of the eval rows within one row (split_indices).

    ``eval_split == 0`` returns ``(dataset, None)``. Raises ConfigurationError for a share outside [0, 1),
    DatasetValidationError when either side would be left without a row, and what column_classes raises.
    """
    classes = column_classes(dataset, stratify_by) if stratify_by is not None else None
    num_eval = eval_row_count(len(dataset), eval_split)
    if num_eval == 0:
        return dataset, None
    if classes is None:
        parts = dataset.train_test_split(test_size=num_eval, shuffle=True, seed=seed)
        return parts["train"], parts["test"]
    indices = split_indices(len(dataset), classes, eval_split, seed)
    return dataset.select(indices.train), dataset.select(indices.eval)


def column_classes(dataset: datasets.Dataset, column: str) -> list[Hashable]:
    """The class of each row: its value in ``column`` (None is a class of its own), read in batches.

    Raises DatasetValidationError for a column the dataset does not have (naming those it has) or one that
    holds lists or objects.
    """
    import datasets

    if column not in dataset.column_names:
        raise DatasetValidationError(
            f"stratify_by names the column '{column}', which the dataset does not have. "
            f"Columns present: {', '.join(dataset.column_names)}.",
            "Name a column of labels exactly as the file spells it (case-sensitive), or leave stratify_by empty.",
        )
    if not isinstance(dataset.features[column], (datasets.Value, datasets.ClassLabel)):
        raise DatasetValidationError(
            f"stratify_by names the column '{column}', which holds lists or objects, not one label per row.",
            "Name a column whose rows each hold one label (a word, a number or true/false).",
        )
    return [value for batch in _column_batches(dataset, column) for value in batch]


def label_column(dataset: datasets.Dataset, shape: RecordShape) -> str | None:
    """The first label-like column, to stratify by when none is named; None when there is none.

    Label-like: not one of ``shape``'s text fields (a field of booleans, such as KTO's ``label``, is a label),
    one scalar per row (text, integer or boolean), 2 to min(MAX_LABEL_CLASSES, rows // 2) distinct values of at
    most MAX_LABEL_CHARS characters, every one in at least 2 rows.
    """
    fields = _shape_fields(shape)
    for column in dataset.column_names:
        feature = dataset.features[column]
        boolean = getattr(feature, "dtype", None) == "bool"
        if (column in fields and not boolean) or not _is_label_feature(feature):
            continue
        if _looks_like_labels(dataset, column):
            return column
    return None


def stratified_split_note(column: str, train: datasets.Dataset, evaluation: datasets.Dataset, *, named: bool) -> str:
    """The log line for a split stratified by ``column``: each class with its eval and total rows.

    ``named``: the user set stratify_by (else the column was found as label-like).
    """
    held_out = Counter(column_classes(evaluation, column))
    total = held_out + Counter(column_classes(train, column))
    shown = list(total)[:10]
    classes = ", ".join(f"{_class_words(cls)} {held_out[cls]} of {total[cls]}" for cls in shown)
    more = f" and {len(total) - len(shown)} more" if len(total) > len(shown) else ""
    why = "" if named else ", a label-like column (set stratify_by to name another)"
    return f"Split stratified by '{column}'{why} ({len(total)} classes; eval rows of each: {classes}{more})"


def _class_words(cls: Hashable) -> str:
    return "(empty)" if cls is None else repr(cls) if isinstance(cls, str) else str(cls)


def _shape_fields(shape: RecordShape) -> set[str]:
    """Every column name ``shape`` reads as one of its fields."""
    fields = {*REQUIRED_FIELDS[shape], *OPTIONAL_FIELDS[shape]}
    for options in FIELD_ALTERNATIVES.get(shape, {}).values():
        fields.update(options)
    for companions in COMPANION_COLUMNS.get(shape, {}).values():
        fields.update(companions)
    return fields


def _is_label_feature(feature) -> bool:
    import datasets

    return isinstance(feature, datasets.ClassLabel) or (
        isinstance(feature, datasets.Value) and feature.dtype in _LABEL_DTYPES
    )


def _looks_like_labels(dataset: datasets.Dataset, column: str) -> bool:
    """Whether ``column`` has few short values, each in at least 2 rows; stops reading at the first sign not."""
    limit = min(MAX_LABEL_CLASSES, len(dataset) // 2)
    counts: Counter = Counter()
    for batch in _column_batches(dataset, column):
        counts.update(batch)
        if len(counts) > limit or any(isinstance(value, str) and len(value) > MAX_LABEL_CHARS for value in counts):
            return False
    return 2 <= len(counts) and min(counts.values()) >= 2


def _column_batches(dataset: datasets.Dataset, column: str) -> Iterator[list]:
    for batch in dataset.select_columns([column]).iter(batch_size=_BATCH):
        yield batch[column]


def eval_rows_in_training(train: datasets.Dataset, evaluation: datasets.Dataset) -> int:
    """How many eval rows have the same content (all columns) as some training row."""
    return int(np.isin(row_fingerprints(evaluation), row_fingerprints(train)).sum())


def shared_rows_warning(count: int) -> str:
    """The warning for ``count`` eval rows that also appear in the training rows."""
    rows = "1 eval row also appears" if count == 1 else f"{count} eval rows also appear"
    return (
        f"{rows} in the training rows, so the eval loss partly measures rows the model trained on. "
        "Turn on drop_duplicates ('Drop duplicate rows') to keep the two apart."
    )
