"""Which prepared training rows each process trained on: a diagnostic for data-parallel runs.

With ``MODELFORGE_RECORD_TRAIN_ROWS=1`` in the worker's environment, every process appends the
indices (in the prepared training set) of the rows of each batch it collates to
``train_rows.rank<N>.jsonl`` in the run folder. Data parallelism is right when the processes' rows
are disjoint and together cover the set; the file shows it without trusting the sampler's code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RECORD_ROWS_ENV = "MODELFORGE_RECORD_TRAIN_ROWS"
ROW_KEYS = ("input_ids", "prompt_input_ids", "prompt")  # what identifies a row, by the trainer's data shape


def _row_key(feature: dict) -> str | None:
    for key in ROW_KEYS:
        if key in feature:
            value = feature[key]
            return json.dumps(value.tolist() if hasattr(value, "tolist") else value)
    return None


class RecordingCollator:
    """Wraps a data collator: notes the rows of each batch, then collates them as before."""

    def __init__(self, collator: Any, index_of: dict[str, int], path: Path):
        self.collator = collator
        self.index_of = index_of
        self.path = Path(path)

    def __call__(self, features: list[dict]) -> Any:
        rows = [self.index_of.get(_row_key(feature)) for feature in features]
        if any(row is not None for row in rows):  # evaluation batches (not training rows) go unrecorded
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"rows": rows}) + "\n")
        return self.collator(features)


def record_train_rows_if_asked(trainer: Any, train_data: Any, path: Path) -> None:
    """Wrap ``trainer``'s collator when the environment asks for the record; rows that repeat keep their first index."""
    if os.environ.get(RECORD_ROWS_ENV) != "1" or trainer.data_collator is None:
        return
    index_of: dict[str, int] = {}
    train_data = trainer.train_dataset if trainer.train_dataset is not None else train_data  # as the trainer keeps it
    for index, row in enumerate(train_data):
        key = _row_key(row)
        if key is not None:
            index_of.setdefault(key, index)
    trainer.data_collator = RecordingCollator(trainer.data_collator, index_of, path)


def read_train_rows(path: Path) -> list[int | None]:
    """Every row index a process recorded, in the order it trained on them."""
    rows: list[int | None] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        rows.extend(json.loads(line)["rows"])
    return rows
