"""One call from a dataset source to a validated ``datasets.Dataset`` with its record shape, and one
from a training config to its training and eval rows (placeholders filled, duplicates counted or dropped
before the split, the split stratified by a column of labels when there is one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..evaluation.dataset_validator import DatasetValidator, ValidationReport, repeated_rows_warning, row_list
from ..evaluation.splits import (
    eval_rows_in_training,
    label_column,
    shared_rows_warning,
    stratified_split_note,
    train_eval_split,
)
from ..exceptions import ConfigurationError, DatasetValidationError
from ..schemas.tasks import TASK_TABLE, TASKS
from .formats import RecordShape, apply_column_mapping, detect_shape
from .loading import read_dataset_source
from .placeholders import fill_placeholders, find_placeholders, placeholder_warnings

if TYPE_CHECKING:
    import datasets

    from ..schemas import TrainingConfig

MIN_TRAINING_ROWS = 10


@dataclass
class LoadedDataset:
    """A dataset that passed validation, its detected shape, the validation report, and what reading it left out
    (``notes``, e.g. SQuAD's unanswerable questions)."""

    dataset: datasets.Dataset
    shape: RecordShape
    report: ValidationReport
    notes: list[str] = field(default_factory=list)


def load_validated_dataset(
    source: str,
    *,
    task: str,
    split: str = "train",
    column_mapping: dict | None = None,
    min_rows: int = MIN_TRAINING_ROWS,
) -> LoadedDataset:
    """Load, map columns, detect the shape, check it serves the task (its TASK_TABLE shapes; else DatasetValidationError naming the shapes the task accepts), validate; raise on problems.

    Raises ConfigurationError for an unknown task and DatasetValidationError for any data problem.
    """
    facts = TASK_TABLE.get(task)
    if facts is None:
        raise ConfigurationError(f"Unknown task '{task}'.", f"Use one of: {', '.join(TASKS)}.")
    read = read_dataset_source(source, split=split)
    dataset = read.dataset
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
    return LoadedDataset(dataset=dataset, shape=shape, report=report, notes=list(read.notes))


@dataclass
class TrainingSplits:
    """The rows a run trains and evaluates on; ``notes`` are the lines to log (the row counts, then each
    warning), ``warnings`` the notes that are warnings; ``rows`` all rows in file order (placeholders filled)."""

    train: datasets.Dataset
    eval: datasets.Dataset | None
    shape: RecordShape
    report: ValidationReport
    notes: list[str]
    warnings: list[str]
    rows: datasets.Dataset


def load_training_splits(config: TrainingConfig) -> TrainingSplits:
    """Load and validate ``config.dataset``, fill its placeholders with ``config.replacements`` (warning about
    those left unfilled and about replacement keys the data never holds), drop repeated rows when
    ``config.drop_duplicates`` (else warn about them and about eval rows that copy training rows), then split
    with ``config.eval_split`` and ``config.seed``, stratified by ``config.stratify_by`` or else by a
    label-like column when there is one (said in the notes).

    Raises what load_validated_dataset and train_eval_split raise, and DatasetValidationError when too few
    distinct rows remain after dropping.
    """
    loaded = load_validated_dataset(
        config.dataset, task=config.task, split=config.dataset_split, column_mapping=config.column_mapping
    )
    report, dataset, dropped = loaded.report, loaded.dataset, ""
    warnings = [*placeholder_warnings(find_placeholders(dataset), config.replacements), *report.warnings]
    dataset = rows = fill_placeholders(dataset, config.replacements)
    if config.drop_duplicates and report.repeated_rows:
        dataset = _drop_repeated_rows(dataset, report, config.dataset)
        warnings.remove(repeated_rows_warning(report.repeated_rows))
        dropped = (
            f"dropped {len(report.repeated_rows)} that repeat an earlier row ({row_list(report.repeated_rows)}), "
            f"{len(dataset)} remain; "
        )
    stratify_by = config.stratify_by
    if stratify_by is None and config.eval_split > 0:
        stratify_by = label_column(dataset, loaded.shape)
    train, evaluation = train_eval_split(dataset, config.eval_split, config.seed, stratify_by=stratify_by)
    if evaluation is not None and report.repeated_rows and not config.drop_duplicates:
        shared = eval_rows_in_training(train, evaluation)
        if shared:
            warnings.append(shared_rows_warning(shared))
    counts = (
        f"Dataset: {report.num_rows} rows, shape '{loaded.shape.value}'; {dropped}"
        f"{len(train)} for training, {len(evaluation) if evaluation is not None else 0} for evaluation"
    )
    stratified = []
    if evaluation is not None and stratify_by is not None:
        stratified = [stratified_split_note(stratify_by, train, evaluation, named=config.stratify_by is not None)]
    return TrainingSplits(train, evaluation, loaded.shape, report, [counts, *loaded.notes, *stratified, *warnings], warnings, rows)


def _drop_repeated_rows(dataset: datasets.Dataset, report: ValidationReport, source: str) -> datasets.Dataset:
    """``dataset`` without the rows that repeat an earlier row; raises when fewer than MIN_TRAINING_ROWS remain."""
    repeated = {row - 1 for row in report.repeated_rows}
    kept = dataset.select([index for index in range(len(dataset)) if index not in repeated])
    if len(kept) < MIN_TRAINING_ROWS:
        raise DatasetValidationError(
            f"{source}: {len(kept)} distinct row(s) remain after dropping the {len(repeated)} that repeat an "
            f"earlier row; at least {MIN_TRAINING_ROWS} are needed.",
            "Add distinct rows, or turn off drop_duplicates to train on the rows as they are.",
        )
    return kept
