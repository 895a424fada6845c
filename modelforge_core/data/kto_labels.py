"""KTO's labels: how many answers are desirable and undesirable, and the refusal of data with one class only.

Read by the dataset validator (before a run, on every row) and by the KTO strategy (on the training rows).
"""

from __future__ import annotations

from ..exceptions import DatasetValidationError


def label_counts(labels: list[bool]) -> tuple[int, int]:
    """(desirable, undesirable): how many labels are True and how many False."""
    desirable = sum(1 for label in labels if label)
    return desirable, len(labels) - desirable


def one_class_error(desirable: int, undesirable: int, rows: str = "rows") -> DatasetValidationError | None:
    """The refusal of rows that are all desirable or all undesirable (KTO learns the difference); None with both.

    ``rows`` names them, e.g. ``"training rows"``.
    """
    if desirable and undesirable:
        return None
    if desirable:
        label, hint = "true", "Add rows labelled false (answers the model should avoid), or train on these answers with strategy 'sft'."
    else:
        label, hint = "false", "Add rows labelled true (answers the model should give)."
    return DatasetValidationError(
        f"KTO: the {rows} hold {desirable} desirable and {undesirable} undesirable answers (every label is {label}); "
        "KTO learns from the difference between the two, so it needs both.",
        hint,
    )
