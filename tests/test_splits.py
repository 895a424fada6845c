"""train_eval_split: sizes, determinism, and the errors for datasets too small to split."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets
import pytest

from modelforge_core.evaluation.splits import train_eval_split
from modelforge_core.exceptions import ConfigurationError, DatasetValidationError


def numbered(n):
    return datasets.Dataset.from_dict({"text": [f"row {i}" for i in range(n)]})


def test_sizes_and_no_overlap():
    train, evaluation = train_eval_split(numbered(100), 0.2, seed=42)
    assert (len(train), len(evaluation)) == (80, 20)
    assert set(train["text"]).isdisjoint(evaluation["text"])
    assert set(train["text"]) | set(evaluation["text"]) == {f"row {i}" for i in range(100)}


def test_same_seed_same_split_other_seed_other_split():
    first = train_eval_split(numbered(50), 0.2, seed=7)
    again = train_eval_split(numbered(50), 0.2, seed=7)
    other = train_eval_split(numbered(50), 0.2, seed=8)
    assert first[0]["text"] == again[0]["text"] and first[1]["text"] == again[1]["text"]
    assert first[1]["text"] != other[1]["text"]


def test_rows_are_shuffled():
    _, evaluation = train_eval_split(numbered(100), 0.1, seed=0)
    assert evaluation["text"] != [f"row {i}" for i in range(90, 100)]


def test_zero_eval_split_returns_dataset_and_none():
    dataset = numbered(5)
    train, evaluation = train_eval_split(dataset, 0.0, seed=1)
    assert train is dataset and evaluation is None


def test_at_least_one_eval_row():
    train, evaluation = train_eval_split(numbered(4), 0.01, seed=1)
    assert (len(train), len(evaluation)) == (3, 1)
    train, evaluation = train_eval_split(numbered(2), 0.5, seed=1)
    assert (len(train), len(evaluation)) == (1, 1)


def test_too_small_to_split():
    with pytest.raises(DatasetValidationError) as info:
        train_eval_split(numbered(1), 0.2, seed=1)
    assert "1 row" in info.value.message and "eval_split" in info.value.hint


def test_share_that_leaves_no_training_row():
    with pytest.raises(DatasetValidationError) as info:
        train_eval_split(numbered(3), 0.9, seed=1)
    assert "3 row" in info.value.message and "no row to train" in info.value.message


@pytest.mark.parametrize("share", [-0.1, 1.0, 1.5])
def test_share_out_of_range(share):
    with pytest.raises(ConfigurationError):
        train_eval_split(numbered(10), share, seed=1)
