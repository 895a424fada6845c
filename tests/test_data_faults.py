"""Faults a tester found in datasets: broken CSV quoting, duplicate columns, repeated rows, train/eval
overlap, and dataset paths that are broken symbolic links. Each is said in words, with its line or rows."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json

import pytest

from modelforge_core.data.loading import load_dataset_source
from modelforge_core.data.pipeline import load_training_splits, load_validated_dataset
from modelforge_core.evaluation.splits import train_eval_split
from modelforge_core.exceptions import DatasetValidationError
from modelforge_core.schemas import TrainingConfig

DISTINCT = [{"input": f"Question {i}?", "output": f"Answer {i}."} for i in range(12)]


def write_csv(path, text):
    path.write_text(text, encoding="utf-8", newline="")
    return path


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Files are named as a user in their folder would name them: ``data.csv``."""
    monkeypatch.chdir(tmp_path)


def load_error(path) -> DatasetValidationError:
    with pytest.raises(DatasetValidationError) as info:
        load_dataset_source(path.name)
    return info.value


def with_repeats(rows, repeats: dict[int, int]) -> list[dict]:
    """``rows`` with row ``i`` (1-based, as messages count) replaced by a copy of row ``repeats[i]``."""
    rows = [dict(row) for row in rows]
    for row, original in repeats.items():
        rows[row - 1] = dict(rows[original - 1])
    return rows


def config_for(path, **overrides) -> TrainingConfig:
    return TrainingConfig(model_name="org/model", dataset=str(path), eval_split=0.25, seed=3, **overrides)


def contents(dataset) -> list[str]:
    return [json.dumps(row, sort_keys=True) for row in dataset]


# --- CSV quoting -----------------------------------------------------------------------------------


def test_a_quote_closed_only_by_a_later_lines_quote_is_refused_at_the_line_it_opens(tmp_path):
    # pandas folded lines 2-4 into row 1's input ('unclosed,1\ninput,output\nunclosed') and trained on it.
    path = write_csv(tmp_path / "data.csv", 'input,output\n"unclosed,1\ninput,output\n"unclosed,2\n')
    err = load_error(path)
    assert err.message.startswith("data.csv, line 2: a quoted field opened here is never closed"), err.message
    assert "line 4" in err.message and "double quote" in err.hint


def test_a_quote_the_file_ends_inside_is_refused_with_its_line(tmp_path):
    path = write_csv(tmp_path / "data.csv", 'input,output\nfine,1\n"unclosed,2\nmore,3\n')
    err = load_error(path)
    assert "data.csv, line 3: a quoted field opened here is never closed (the file ends inside it)" in err.message
    assert '""' in err.hint, "the hint says how to write a quote inside a field"


def test_text_after_a_closing_quote_is_refused_with_its_line(tmp_path):
    err = load_error(write_csv(tmp_path / "data.csv", 'input,output\nfine,1\n"say "hi" now",2\n'))
    assert "data.csv, line 3: text follows the double quote that closes a quoted field" in err.message


def test_well_quoted_csv_reads_exactly(tmp_path):
    text = 'input,output\r\n"two\nlines, one comma",1\r\n\r\n"a ""quoted"" word",2\r\n5" screen,3\r\n'
    dataset = load_dataset_source(str(write_csv(tmp_path / "data.csv", text)))
    assert dataset["input"] == ["two\nlines, one comma", 'a "quoted" word', '5" screen']
    assert dataset["output"] == ["1", "2", "3"], "a blank line is skipped; every value stays text"


def test_a_field_longer_than_the_csv_modules_default_limit_reads(tmp_path):
    document = "word " * 40_000  # 200,000 characters; the csv module stops at 131,072 by default
    dataset = load_dataset_source(str(write_csv(tmp_path / "long.csv", f'text,summary\n"{document}",short\n')))
    assert dataset[0] == {"text": document, "summary": "short"}


def test_a_row_with_too_few_fields_is_refused_with_its_line(tmp_path):
    err = load_error(write_csv(tmp_path / "data.csv", "input,output\na,b\nc\n"))
    assert "data.csv, line 3: this CSV row has 1 field(s), but the header has 2 (input, output)" in err.message


def test_a_lone_carriage_return_in_a_field_is_named(tmp_path):
    err = load_error(write_csv(tmp_path / "data.csv", "input,output\na\rb,1\n"))
    assert "line 2" in err.message and "carriage return" in err.message and "double quotes" in err.hint


# --- duplicate columns -----------------------------------------------------------------------------


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path):
    err = load_error(write_csv(tmp_path / "data.csv", "input,output,input\na,b,c\n"))
    assert err.message == "data.csv: the header names the column 'input' twice (columns 1 and 3)."
    assert "own name" in err.hint


def test_a_csv_header_with_a_nameless_column_is_refused(tmp_path):
    err = load_error(write_csv(tmp_path / "data.csv", "input,output,\na,b,\n"))
    assert "data.csv: the header gives no name to column(s) 3" in err.message


def test_a_parquet_file_with_two_columns_of_one_name_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"]), pa.array(["c"]), pa.array(["d"])],
                                 names=["input", "output", "input", "output"])
    pq.write_table(table, tmp_path / "data.parquet")
    err = load_error(tmp_path / "data.parquet")
    assert err.message == (
        "data.parquet: the file has the column 'input' twice (columns 1 and 3); "
        "the column 'output' twice (columns 2 and 4)."
    )


# --- repeated rows and train/eval overlap ------------------------------------------------------------


def test_repeated_rows_are_counted_with_their_rows_as_a_warning(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", with_repeats(DISTINCT, {4: 1, 7: 2, 9: 1}))
    report = load_validated_dataset(str(path), task="text-generation").report
    assert report.ok, "repeated rows warn; they do not block"
    assert report.repeated_rows == [4, 7, 9]
    assert len(report.warnings) == 1 and report.warnings[0].startswith("3 rows repeat an earlier row (rows 4, 7, 9)")
    assert "drop_duplicates" in report.warnings[0]
    assert "Warning: 3 rows repeat" in report.summary()


def test_rows_with_nested_values_compare_by_their_content(tmp_path):
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    other = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]
    distinct = [[{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": f"A{i}"}] for i in range(9)]
    rows = [{"messages": messages} for messages in [chat, chat, other, *distinct]]
    report = load_validated_dataset(str(write_jsonl(tmp_path / "c.jsonl", rows)), task="text-generation").report
    assert report.repeated_rows == [2], "only the exact copy repeats; one changed message makes a row distinct"
    assert report.warnings[0].startswith("1 row repeats an earlier row (row 2)")


def test_eval_rows_that_copy_training_rows_are_counted(tmp_path):
    rows = with_repeats(DISTINCT, {row: 1 for row in range(2, 11)})  # rows 2-10 copy row 1
    splits = load_training_splits(config_for(write_jsonl(tmp_path / "d.jsonl", rows)))
    in_training = set(contents(splits.train))
    shared = sum(row in in_training for row in contents(splits.eval))
    assert shared >= 1, "with 10 copies of one row, an eval row copies a training row"
    assert splits.warnings[0].startswith("9 rows repeat an earlier row (rows 2, 3, 4, 5, 6, 7, 8, 9, 10)")
    word = "row also appears" if shared == 1 else "rows also appear"
    assert splits.warnings[1].startswith(f"{shared} eval {word} in the training rows")
    assert splits.notes == ["Dataset: 12 rows, shape 'modelforge'; 9 for training, 3 for evaluation", *splits.warnings]


def test_drop_duplicates_drops_the_repeats_before_the_split_and_says_how_many(tmp_path):
    rows = DISTINCT + DISTINCT[:3]  # rows 13-15 copy rows 1-3
    splits = load_training_splits(config_for(write_jsonl(tmp_path / "d.jsonl", rows), drop_duplicates=True))
    assert splits.warnings == [], "dropped rows are said in the counts, no longer a warning"
    assert splits.notes == [
        "Dataset: 15 rows, shape 'modelforge'; dropped 3 that repeat an earlier row (rows 13, 14, 15), "
        "12 remain; 9 for training, 3 for evaluation"
    ]
    train, evaluation = contents(splits.train), contents(splits.eval)
    assert len(set(train + evaluation)) == len(train) + len(evaluation) == 12
    assert not set(evaluation) & set(train), "no eval row is a copy of a training row"


def test_drop_duplicates_that_leaves_too_few_rows_says_so(tmp_path):
    rows = with_repeats(DISTINCT, {row: 1 for row in range(2, 13)})
    with pytest.raises(DatasetValidationError) as info:
        load_training_splits(config_for(write_jsonl(tmp_path / "d.jsonl", rows), drop_duplicates=True))
    message = info.value.message
    assert "1 distinct row(s) remain after dropping the 11 that repeat an earlier row; at least 10" in message
    assert "drop_duplicates" in info.value.hint


@pytest.mark.parametrize("drop_duplicates", [False, True])
def test_without_repeats_the_split_is_the_one_train_eval_split_makes(tmp_path, drop_duplicates):
    path = write_jsonl(tmp_path / "d.jsonl", DISTINCT)
    splits = load_training_splits(config_for(path, drop_duplicates=drop_duplicates))
    train, evaluation = train_eval_split(load_validated_dataset(str(path), task="text-generation").dataset, 0.25, 3)
    assert (contents(splits.train), contents(splits.eval)) == (contents(train), contents(evaluation))
    assert splits.warnings == []
    assert splits.notes == ["Dataset: 12 rows, shape 'modelforge'; 9 for training, 3 for evaluation"]


def test_the_preview_shows_the_warnings(settings, tmp_path):
    from modelforge_core.services.dataset_service import DatasetService

    path = write_jsonl(tmp_path / "d.jsonl", with_repeats(DISTINCT, {4: 1, 7: 2, 9: 1}))
    preview = DatasetService(settings).preview(str(path), "text-generation")
    assert preview.ok and len(preview.warnings) == 1
    assert preview.message.startswith("12 rows, shape 'modelforge': ready. Trained by strategy 'sft', 'qlora' or 'grpo'. 3 rows repeat an earlier row (rows 4, 7, 9)")
    clean = DatasetService(settings).preview(str(write_jsonl(tmp_path / "ok.jsonl", DISTINCT)), "text-generation")
    assert clean.ok and clean.warnings == [] and clean.message == "12 rows, shape 'modelforge': ready. Trained by strategy 'sft', 'qlora' or 'grpo'."


# --- symbolic links --------------------------------------------------------------------------------


def test_a_symbolic_link_loop_is_named_as_such(tmp_path):
    (tmp_path / "a.jsonl").symlink_to(tmp_path / "b.jsonl")
    (tmp_path / "b.jsonl").symlink_to(tmp_path / "a.jsonl")
    err = load_error(tmp_path / "a.jsonl")
    assert "symbolic link loop" in err.message and "not found" not in err.message
    assert "link" in err.hint


def test_a_dangling_symbolic_link_says_where_it_points(tmp_path):
    (tmp_path / "data.jsonl").symlink_to(tmp_path / "moved.jsonl")
    err = load_error(tmp_path / "data.jsonl")
    assert f"is a symbolic link to {tmp_path / 'moved.jsonl'}, which does not exist" in err.message
    assert "Point the link" in err.hint
