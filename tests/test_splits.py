"""train_eval_split: sizes, determinism, the errors for datasets too small to split, and stratified splits
(shares kept, the label-like column found and said, the split unchanged where there is none)."""

import json
import os
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets
import pytest

from modelforge_core.data.formats import RecordShape
from modelforge_core.data.pipeline import load_training_splits
from modelforge_core.evaluation.splits import label_column, split_indices, train_eval_split
from modelforge_core.exceptions import ConfigurationError, DatasetValidationError
from modelforge_core.schemas import TrainingConfig


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


# --- stratified splits ----------------------------------------------------------------------------

def labelled(counts: dict, column="category"):
    classes = [cls for cls, count in counts.items() for _ in range(count)]
    return datasets.Dataset.from_dict({"text": [f"row {i}" for i in range(len(classes))], column: classes})


def assert_shares_kept(classes, eval_rows, share):
    total, held_out = Counter(classes), Counter(classes[i] for i in eval_rows)
    assert len(eval_rows) == max(1, round(len(classes) * share))
    for cls, count in total.items():
        exact = count * len(eval_rows) / len(classes)
        assert abs(held_out[cls] - exact) < 1, (cls, held_out[cls], exact)


@pytest.mark.parametrize("share", [0.2, 0.3])
def test_uneven_classes_keep_their_share_within_one_row(share):
    dataset = labelled({"a": 35, "b": 10, "c": 5})  # 70/20/10 of 50
    train, evaluation = train_eval_split(dataset, share, seed=42, stratify_by="category")
    eval_positions = [int(text.split()[1]) for text in evaluation["text"]]
    assert_shares_kept(dataset["category"], eval_positions, share)
    assert set(train["text"]).isdisjoint(evaluation["text"]) and len(train) + len(evaluation) == 50
    assert train.features == dataset.features


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("counts", [(7, 3), (13, 6, 1), (40, 1, 1, 1, 2), (3, 3, 3, 3, 3, 3, 1)])
def test_split_indices_keep_every_share_within_one_row(counts, seed):
    classes = [f"c{k}" for k, count in enumerate(counts) for _ in range(count)]
    for share in (0.1, 0.25, 0.5):
        split = split_indices(len(classes), classes, share, seed)
        assert sorted(split.train + split.eval) == list(range(len(classes)))
        assert_shares_kept(classes, split.eval, share)


def test_the_stratified_split_is_reproducible_by_seed_and_shuffled():
    classes = ["x"] * 30 + [None] * 10 + [True] * 10
    first, again, other = (split_indices(50, classes, 0.2, seed) for seed in (1, 1, 2))
    assert first == again and first.eval != other.eval
    assert Counter(classes[i] for i in first.eval) == {"x": 6, None: 2, True: 2}, "None is a class of its own"
    assert first.train != sorted(first.train), "the training rows are not grouped by class"


def test_without_classes_the_indices_are_the_ones_train_test_split_picks():
    dataset = numbered(37)
    parts = dataset.train_test_split(test_size=7, shuffle=True, seed=11)
    split = split_indices(37, None, 0.2, 11)
    assert dataset.select(split.eval)["text"] == parts["test"]["text"]
    assert dataset.select(split.train)["text"] == parts["train"]["text"]


def test_stratify_by_an_unknown_column_names_the_columns_present():
    with pytest.raises(DatasetValidationError) as info:
        train_eval_split(labelled({"a": 5, "b": 5}), 0.2, seed=1, stratify_by="Category")
    assert "'Category'" in info.value.message and "Columns present: text, category." in info.value.message


def test_stratify_by_a_column_of_lists_is_refused():
    dataset = datasets.Dataset.from_dict({"text": ["a", "b", "c"], "tags": [["x"], ["y"], []]})
    with pytest.raises(DatasetValidationError) as info:
        train_eval_split(dataset, 0.3, seed=1, stratify_by="tags")
    assert "holds lists or objects" in info.value.message


@pytest.mark.parametrize(
    "columns,expected",
    [
        ({"category": ["a", "b"] * 10}, "category"),
        ({"label": [True, False, False, True] * 5}, "label"),
        ({"stars": [1, 2, 3, 4, 5] * 4}, "stars"),
        ({"id": list(range(20))}, None),  # every value distinct
        ({"category": ["a"] * 19 + ["b"]}, None),  # a class of one row
        ({"category": ["a"] * 20}, None),  # one class
        ({"category": ["a" * 41, "b"] * 10}, None),  # a value too long for a label
        ({"score": [0.5, 1.5] * 10}, None),  # floats are measurements, not labels
        ({"output": ["yes", "no"] * 10}, None),  # the shape's own field
    ],
)
def test_a_label_like_column_is_found(columns, expected):
    dataset = datasets.Dataset.from_dict({"input": [f"q {i}" for i in range(20)], "output": [f"a {i}" for i in range(20)], **columns})
    assert label_column(dataset, RecordShape.MODELFORGE) == expected


def test_more_classes_than_half_the_rows_is_not_label_like():
    dataset = datasets.Dataset.from_dict({"text": [f"r {i}" for i in range(10)], "group": ["a", "b", "c"] * 3 + ["a"]})
    assert label_column(dataset, RecordShape.TEXT) == "group"
    assert label_column(dataset.select(range(5)), RecordShape.TEXT) is None, "3 values in 5 rows: more than 5 // 2"


def _write(tmp_path, rows):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def _config(path, **fields):
    return TrainingConfig(model_name="/models/demo", dataset=path, **{"eval_split": 0.2, "seed": 5, **fields})


def test_a_run_stratifies_by_a_label_like_column_and_says_so(tmp_path):
    kinds = ["math"] * 35 + ["code"] * 10 + ["chat"] * 5
    rows = [{"instruction": f"Task {i}", "output": f"Answer {i}", "category": kind} for i, kind in enumerate(kinds)]
    splits = load_training_splits(_config(_write(tmp_path, rows)))
    assert Counter(splits.eval["category"]) == {"math": 7, "code": 2, "chat": 1}
    assert splits.notes[1] == (
        "Split stratified by 'category', a label-like column (set stratify_by to name another) "
        "(3 classes; eval rows of each: 'math' 7 of 35, 'code' 2 of 10, 'chat' 1 of 5)"
    )


def test_a_run_stratifies_by_the_named_column(tmp_path):
    rows = [{"text": f"Line {i}", "source": ["web", "book"][i % 2], "lang": ["en", "de", "fr", "es"][i % 4]} for i in range(40)]
    splits = load_training_splits(_config(_write(tmp_path, rows), stratify_by="lang"))
    assert Counter(splits.eval["lang"]) == {"en": 2, "de": 2, "fr": 2, "es": 2}
    assert splits.notes[1].startswith("Split stratified by 'lang' (4 classes; eval rows of each: ")


def test_a_run_with_no_label_like_column_splits_exactly_as_before(tmp_path):
    rows = [{"instruction": f"Task {i}", "output": ["yes", "no"][i % 2]} for i in range(30)]
    path = _write(tmp_path, rows)
    splits = load_training_splits(_config(path))
    before = datasets.Dataset.from_list(rows).train_test_split(test_size=6, shuffle=True, seed=5)
    assert splits.train.to_list() == before["train"].to_list() and splits.eval.to_list() == before["test"].to_list()
    assert not any(note.startswith("Split stratified") for note in splits.notes)


@pytest.mark.parametrize("share", [0.2, 0.0])
def test_a_run_naming_an_unknown_stratify_column_is_refused(tmp_path, share):
    rows = [{"text": f"Line {i}"} for i in range(20)]
    with pytest.raises(DatasetValidationError) as info:
        load_training_splits(_config(_write(tmp_path, rows), stratify_by="label", eval_split=share))
    assert "stratify_by names the column 'label'" in info.value.message and "Columns present: text." in info.value.message
