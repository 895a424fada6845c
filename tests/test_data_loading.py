"""Loading dataset files and Hub ids, the errors a user sees, and the shipped samples."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
import subprocess
import sys
import time

import pytest

from modelforge_core.data import loading
from modelforge_core.data.formats import RecordShape
from modelforge_core.data.loading import SUPPORTED_EXTENSIONS, load_dataset_source
from modelforge_core.data.pipeline import load_validated_dataset
from modelforge_core.data.samples import (
    SAMPLE_DATASETS,
    SAMPLES_DIR,
    sample_dataset_paths,
)
from modelforge_core.exceptions import ConfigurationError, DatasetValidationError

ROWS = [{"instruction": f"Question {i}?", "input": "", "output": f"Answer {i}."} for i in range(12)]
SAMPLE_TASKS = {
    "sft": "text-generation",
    "text-generation": "text-generation",
    "conversational": "text-generation",
    "dpo": "text-generation",
    "kto": "text-generation",
    "summarization": "summarization",
    "extractive-question-answering": "extractive-question-answering",
    "qa-demo": "extractive-question-answering",
}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def load_error(source) -> DatasetValidationError:
    with pytest.raises(DatasetValidationError) as info:
        load_dataset_source(str(source))
    return info.value


# --- formats -------------------------------------------------------------------------------------


def test_loads_jsonl(tmp_path):
    dataset = load_dataset_source(str(write_jsonl(tmp_path / "data.jsonl", ROWS)))
    assert len(dataset) == 12
    assert set(dataset.column_names) == {"instruction", "input", "output"}
    assert dataset[3]["output"] == "Answer 3."


def test_jsonl_rows_with_different_keys_get_nulls(tmp_path):
    rows = [{"instruction": "a", "output": "b"}, {"instruction": "c", "input": "x", "output": "d"}]
    dataset = load_dataset_source(str(write_jsonl(tmp_path / "data.jsonl", rows)))
    assert dataset["input"] == [None, "x"]


def test_jsonl_blank_lines_and_bom_are_ignored(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(ROWS[0]).encode() + b"\n\n" + json.dumps(ROWS[1]).encode() + b"\n")
    assert len(load_dataset_source(str(path))) == 2


def test_loads_json_list(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps(ROWS), encoding="utf-8")
    dataset = load_dataset_source(str(path))
    assert len(dataset) == 12 and dataset[0]["instruction"] == "Question 0?"


def test_json_file_holding_json_lines_is_read(tmp_path):
    dataset = load_dataset_source(str(write_jsonl(tmp_path / "data.json", ROWS)))
    assert len(dataset) == 12


def test_loads_csv_keeping_empty_cells_as_text(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('instruction,input,output\n"Add, please",,"4"\nSay hi,,Hi\n', encoding="utf-8")
    dataset = load_dataset_source(str(path))
    assert dataset[0] == {"instruction": "Add, please", "input": "", "output": "4"}
    assert len(dataset) == 2


def test_loads_parquet(tmp_path):
    import pandas as pd

    path = tmp_path / "data.parquet"
    pd.DataFrame(ROWS).to_parquet(path)
    dataset = load_dataset_source(str(path))
    assert len(dataset) == 12 and dataset[5]["output"] == "Answer 5."


def test_extension_is_case_insensitive(tmp_path):
    assert len(load_dataset_source(str(write_jsonl(tmp_path / "DATA.JSONL", ROWS)))) == 12


# --- file errors ---------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    err = load_error(tmp_path / "nope.jsonl")
    assert "not found" in err.message and "nope.jsonl" in err.message
    assert all(ext in err.hint for ext in SUPPORTED_EXTENSIONS)


@pytest.mark.parametrize("source", ["data/train.csv", "train.parquet", "some/deep/folder", "./x.jsonl", "notes.txt"])
def test_path_like_sources_that_do_not_exist_are_file_not_found(source):
    assert "not found" in load_error(source).message


def test_unsupported_extension(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("hello\n")
    err = load_error(path)
    assert "unsupported" in err.message and ".txt" in err.message and ".jsonl" in err.message


def test_folder_is_refused(tmp_path):
    assert "folder" in load_error(tmp_path).message


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    err = load_error(path)
    assert "line 2" in err.message and "UTF-8" in err.message and "latin1.jsonl" in err.message
    assert "UTF-8" in err.hint


def test_non_utf8_csv_names_the_line(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"text\nfine\n\xff\xfebad\n")
    assert "line 3" in load_error(path).message


def test_malformed_json_line_names_its_row(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[1]) + "\n" + '{"instruction": "x", output: 1}\n')
    err = load_error(path)
    assert "broken.jsonl" in err.message and "line 3" in err.message and "row 3" in err.message
    assert "JSON" in err.message


def test_jsonl_line_that_is_not_an_object(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n[1, 2]\n")
    err = load_error(path)
    assert "line 2" in err.message and "object" in err.message and "a list" in err.message


def test_json_that_is_not_a_list_of_objects(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"rows": ROWS}))
    assert "list of objects" in load_error(path).message
    path.write_text(json.dumps([ROWS[0], "oops"]))
    err = load_error(path)
    assert "row 2" in err.message and "object" in err.message


def test_invalid_json_file_names_the_line(tmp_path):
    path = tmp_path / "data.json"
    path.write_text('[\n{"a": "b"},\n{"a": }\n]')
    assert "line 3" in load_error(path).message


@pytest.mark.parametrize("name,content", [("e.jsonl", ""), ("e.jsonl", "\n\n  \n"), ("e.json", "[]"), ("e.csv", ""), ("e.csv", "a,b\n")])
def test_empty_files_have_no_rows(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    assert "no rows" in load_error(path).message


def test_csv_parse_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("instruction,output\na,b\nc,d,e,f\n")
    err = load_error(path)
    assert "bad.csv" in err.message and "CSV" in err.message and "line 3" in err.message


def test_type_changing_between_rows_names_row_and_field(tmp_path):
    rows = [{"input": "a", "output": "b"}, {"input": "c", "output": "d"}, {"input": "e", "output": 5}]
    err = load_error(write_jsonl(tmp_path / "mixed.jsonl", rows))
    assert "row 3" in err.message and "'output'" in err.message
    assert "a string" in err.message and "a number" in err.message


def test_broken_parquet(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"not parquet at all")
    assert "Parquet" in load_error(path).message


# --- Hub ids -------------------------------------------------------------------------------------


def test_hub_id_offline_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    err = load_error("some-org/some-dataset")
    assert time.monotonic() - start < 2
    assert "offline" in err.message and "some-org/some-dataset" in err.message
    assert "local file" in err.message and ".jsonl" in err.hint


def test_hub_not_found_is_wrapped(monkeypatch):
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    def fake_load(*args, **kwargs):
        raise DatasetNotFoundError("Dataset 'org/missing' doesn't exist on the Hub or cannot be accessed.")

    monkeypatch.setattr(loading, "is_offline", lambda: False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    err = load_error("org/missing")
    assert "org/missing" in err.message and "not found" in err.message
    assert "huggingface.co" in err.hint


def test_hub_success_passes_split(monkeypatch):
    import datasets

    seen = {}

    def fake_load(name, split):
        seen.update(name=name, split=split)
        return datasets.Dataset.from_list(ROWS)

    monkeypatch.setattr(loading, "is_offline", lambda: False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    assert len(load_dataset_source("org/data", split="validation")) == 12
    assert seen == {"name": "org/data", "split": "validation"}


def test_importing_data_modules_does_not_import_datasets():
    code = (
        "import sys, modelforge_core.data.formats, modelforge_core.data.loading, modelforge_core.data.formatting, "
        "modelforge_core.data.pipeline, modelforge_core.data.samples, modelforge_core.evaluation.splits; "
        "assert 'datasets' not in sys.modules and 'torch' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})


# --- pipeline and samples ------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(SAMPLE_DATASETS))
def test_every_shipped_sample_loads_and_validates(key):
    path = sample_dataset_paths().get(key)
    if path is None:
        pytest.skip(f"{SAMPLE_DATASETS[key]} is not written yet")
    loaded = load_validated_dataset(path, task=SAMPLE_TASKS[key])
    assert loaded.report.ok and len(loaded.dataset) >= 10
    assert (SAMPLES_DIR / SAMPLE_DATASETS[key]).stat().st_size < 300_000


def test_sample_paths_are_absolute_and_exist():
    paths = sample_dataset_paths()
    assert "text-generation" in paths and "dpo" in paths
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in paths.values())


def test_pipeline_detects_shape_and_applies_mapping(tmp_path):
    rows = [{"question": f"Q{i}", "reply": f"A{i}"} for i in range(10)]
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    loaded = load_validated_dataset(str(path), task="text-generation", column_mapping={"question": "input", "reply": "output"})
    assert loaded.shape is RecordShape.MODELFORGE
    assert loaded.dataset.column_names == ["input", "output"]


def test_pipeline_rejects_shape_the_task_cannot_use(tmp_path):
    rows = [{"text": f"Some text {i}."} for i in range(10)]
    with pytest.raises(DatasetValidationError) as info:
        load_validated_dataset(str(write_jsonl(tmp_path / "t.jsonl", rows)), task="summarization")
    assert "summarization" in info.value.message and "text" in info.value.message
    assert "accepts" in info.value.message


def test_pipeline_raises_validation_problems_with_rows(tmp_path):
    rows = [{"input": f"Q{i}", "output": "" if i == 4 else f"A{i}"} for i in range(10)]
    with pytest.raises(DatasetValidationError) as info:
        load_validated_dataset(str(write_jsonl(tmp_path / "d.jsonl", rows)), task="text-generation")
    assert "d.jsonl" in info.value.message and "row 5" in info.value.message and "'output'" in info.value.message


def test_pipeline_too_few_rows(tmp_path):
    with pytest.raises(DatasetValidationError) as info:
        load_validated_dataset(str(write_jsonl(tmp_path / "d.jsonl", ROWS[:3])), task="text-generation")
    assert "3 row" in info.value.message and "10" in info.value.message
    assert len(load_validated_dataset(str(tmp_path / "d.jsonl"), task="text-generation", min_rows=3).dataset) == 3


def test_pipeline_unknown_task(tmp_path):
    with pytest.raises(ConfigurationError):
        load_validated_dataset(str(write_jsonl(tmp_path / "d.jsonl", ROWS)), task="painting")


def test_pipeline_errors_name_the_file(tmp_path):
    path = str(write_jsonl(tmp_path / "odd.jsonl", [{"question": "Q", "reply": "A"}] * 10))
    with pytest.raises(DatasetValidationError) as info:
        load_validated_dataset(path, task="text-generation")
    assert "odd.jsonl" in info.value.message and "question, reply" in info.value.message
    with pytest.raises(DatasetValidationError) as info:
        load_validated_dataset(path, task="text-generation", column_mapping={"nope": "input"})
    assert "odd.jsonl" in info.value.message and "'nope'" in info.value.message
