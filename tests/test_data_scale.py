"""Data at scale and the nested SQuAD JSON: large files streamed to an Arrow cache with the same rows and the
same messages as small ones, previews of large files from their first rows, and SQuAD read as question rows."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
from pathlib import Path

import pytest
from test_data_loading import load_error, write_jsonl

from modelforge_core.data import arrow_cache, loading
from modelforge_core.data.loading import load_dataset_source, read_dataset_source
from modelforge_core.data.pipeline import load_validated_dataset
from modelforge_core.exceptions import DatasetValidationError
from modelforge_core.services import dataset_service
from modelforge_core.services.dataset_service import DatasetService

QA = "extractive-question-answering"


def error_of(source) -> str:
    return load_error(source).message


@pytest.fixture
def large(settings, monkeypatch):
    """Every file counts as large, and the Arrow writer works in batches of 3 rows (so schemas change between
    batches); returns the cache folder."""
    monkeypatch.setattr(loading, "LARGE_FILE_BYTES", 0)
    monkeypatch.setattr(arrow_cache, "FIRST_BATCH_ROWS", 3)
    monkeypatch.setattr(arrow_cache, "MAX_BATCH_ROWS", 3)
    return settings.home / "cache" / "datasets"


def small_and_large(monkeypatch, path):
    """The dataset read by the in-memory reader, then by the streaming one."""
    monkeypatch.setattr(loading, "LARGE_FILE_BYTES", 10**12)
    small = load_dataset_source(str(path))
    monkeypatch.setattr(loading, "LARGE_FILE_BYTES", 0)
    return small, load_dataset_source(str(path))


# --- nested SQuAD ---------------------------------------------------------------------------------


def squad_file(path, *, impossible=2, answered=12, version="v2.0"):
    """A SQuAD file: one article, paragraphs of two questions each; the last ``impossible`` questions unanswerable."""
    qas = []
    for i in range(answered + impossible):
        if i < answered:
            qas.append({"id": f"q{i}", "question": f"What is number {i}?",
                        "answers": [{"text": f"number {i}", "answer_start": 8}]})
        else:
            qas.append({"id": f"q{i}", "question": "What is unknown?", "answers": [], "is_impossible": True,
                        "plausible_answers": [{"text": "unknown", "answer_start": 0}]})
    paragraphs = [{"context": f"This is number {qa['id'][1:]}.", "qas": [qa]} for qa in qas]
    path.write_text(json.dumps({"version": version, "data": [{"title": "Numbers", "paragraphs": paragraphs}]}))
    return path


def test_nested_squad_is_read_as_question_rows_that_the_qa_task_trains(tmp_path):
    path = squad_file(tmp_path / "squad.json")
    loaded = load_validated_dataset(str(path), task=QA)
    assert len(loaded.dataset) == 12 and loaded.shape.value == "extractive_qa" and loaded.report.ok
    assert loaded.dataset[3] == {"id": "q3", "title": "Numbers", "context": "This is number 3.",
                                 "question": "What is number 3?",
                                 "answers": {"text": ["number 3"], "answer_start": [8]}}


def test_unanswerable_squad_questions_are_skipped_and_counted(tmp_path):
    loaded = read_dataset_source(str(squad_file(tmp_path / "squad.json", impossible=3)))
    assert len(loaded.dataset) == 12 and loaded.num_rows == 12
    assert loaded.notes == [f"{tmp_path / 'squad.json'}: skipped 3 of 15 questions that have no answer (SQuAD 2.0 "
                            "is_impossible); extractive question answering learns answer spans only."]
    assert "q12" not in loaded.dataset["id"]
    assert read_dataset_source(str(squad_file(tmp_path / "v1.json", impossible=0, version="1.1"))).notes == []


def test_the_preview_says_how_many_squad_questions_were_skipped(settings, tmp_path):
    preview = DatasetService(settings).preview(str(squad_file(tmp_path / "squad.json")), QA)
    assert preview.ok and preview.num_rows == 12 and preview.notes, preview.message
    assert preview.message.startswith("12 rows, shape 'extractive_qa': ready.")
    assert "skipped 2 of 14 questions that have no answer" in preview.message


def test_a_squad_file_with_only_unanswerable_questions_is_refused(tmp_path):
    message = error_of(squad_file(tmp_path / "none.json", answered=0, impossible=4))
    assert "all 4 questions are unanswerable" in message and "none.json" in message


def test_a_misplaced_squad_answer_is_named_by_its_row(tmp_path):
    path = squad_file(tmp_path / "squad.json", impossible=0)
    data = json.loads(path.read_text())
    data["data"][0]["paragraphs"][4]["qas"][0]["answers"][0]["answer_start"] = 2
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetValidationError) as info:
        load_validated_dataset(str(path), task=QA)
    assert "row 5" in info.value.message and "answer_start 2" in info.value.message


def broken_squad(change):
    data = {"version": "1.1", "data": [{"title": "T", "paragraphs": [
        {"context": "Paris is in France.", "qas": [{"id": "a", "question": "Where is Paris?",
                                                     "answers": [{"text": "France", "answer_start": 12}]}]}
        for _ in range(3)]}]}
    change(data)
    return data


@pytest.mark.parametrize("change,words", [
    (lambda d: d["data"][0]["paragraphs"][2].pop("context"), "data[0].paragraphs[2]: no 'context'"),
    (lambda d: d["data"][0].pop("paragraphs"), "data[0]: no 'paragraphs'"),
    (lambda d: d["data"].append("oops"), "data[1]: expected an object {...}, got a string"),
    (lambda d: d["data"][0]["paragraphs"][1].update(qas={"id": "x"}), "data[0].paragraphs[1].qas: expected a list, got an object"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].pop("question"), "data[0].paragraphs[0].qas[0]: no 'question'"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0]["answers"][0].update(text=7),
     "data[0].paragraphs[0].qas[0].answers[0].text: expected a string, got a number"),
    (lambda d: d["data"][0]["paragraphs"][0]["qas"][0]["answers"][0].update(answer_start="12"),
     "data[0].paragraphs[0].qas[0].answers[0]: 'answer_start' must be a whole number"),
])
def test_a_broken_squad_nesting_is_refused_with_its_path(tmp_path, change, words):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(broken_squad(change)))
    message = error_of(path)
    assert message.startswith(f"{path}: {words}"), message


def test_a_json_object_that_is_not_squad_is_still_refused_as_before(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"data": [{"instruction": "a", "output": "b"}]}))
    assert "expected a JSON list of objects" in error_of(path)


# --- large files: the streamed load ----------------------------------------------------------------

VARIED = (
    [{"instruction": f"Do {i}", "output": f"Done {i}", "input": None} for i in range(4)]
    + [{"instruction": "Late", "output": "columns", "input": "now text", "score": 1} for _ in range(3)]
    + [{"instruction": "Float", "output": "score", "input": "", "score": 2.5, "tags": []}]
    + [{"instruction": "Nested", "output": "turns", "score": 3, "tags": ["a"],
        "turns": [{"role": "user", "content": "hi"}]}]
    + [{"instruction": "Wider", "output": "struct", "turns": [{"role": "user", "content": "x", "name": "n"}]}]
)


@pytest.mark.parametrize("rows", [VARIED, [{}] * 4 + [{"text": "first field in row 5"}, {}]], ids=["varied", "empty"])
def test_a_large_jsonl_file_gives_the_rows_of_the_small_path(large, tmp_path, monkeypatch, rows):
    small, streamed = small_and_large(monkeypatch, write_jsonl(tmp_path / "varied.jsonl", rows))
    assert streamed.to_list() == small.to_list()
    assert streamed.features == small.features
    assert {Path(file["filename"]).parent for file in streamed.cache_files} == {large}, "mapped from the cache"
    assert [p.name for p in large.iterdir() if p.name.startswith(".partial")] == [], "part files are removed"


def test_a_large_csv_file_gives_the_rows_of_the_small_path(large, tmp_path, monkeypatch):
    path = tmp_path / "data.csv"
    path.write_text('instruction,output\n' + '"Add, please","4"\n\n"two\nlines",ok\nx,"say ""hi"""\n' * 3, newline="")
    small, streamed = small_and_large(monkeypatch, path)
    assert len(small) == 9 and streamed.to_list() == small.to_list()


FAULTS = {
    "bad JSON": b'{"text": "a"}\n\n{"text": "b"}\n{"text": "c"}\n{"text": \n',
    "not an object": b'{"text": "a"}\n{"text": "b"}\n{"text": "c"}\n{"text": "d"}\n[1, 2]\n',
    "not UTF-8": b'{"text": "a"}\n{"text": "b"}\n{"text": "c"}\n{"text": "d"}\n{"text": "caf\xe9"}\n',
    "type change in a batch": b'{"text": "a"}\n{"text": 5}\n',
    "type change between batches": b'{"text": "a"}\n{"text": null}\n{"text": "c"}\n{"text": 4}\n',
    "type change after nulls": b'{"t": "a", "n": null}\n{"t": "b", "n": null}\n{"t": "c"}\n{"t": "d", "n": 1}\n'
                               b'{"t": "e", "n": "x"}\n',
}


@pytest.mark.parametrize("name", FAULTS)
def test_a_large_file_is_refused_with_the_words_of_the_small_path(large, tmp_path, monkeypatch, name):
    path = tmp_path / "faulty.jsonl"
    path.write_bytes(FAULTS[name])
    monkeypatch.setattr(loading, "LARGE_FILE_BYTES", 10**12)
    expected = error_of(path)
    monkeypatch.setattr(loading, "LARGE_FILE_BYTES", 0)
    assert error_of(path) == expected
    assert "line" in expected or "row" in expected
    assert not large.exists() or list(large.iterdir()) == [], "nothing is cached for a faulty file"


@pytest.mark.parametrize("text", ['a,b\n1,2\n3,"open\n4,5\n', "a,b\n1,2\n3,4,5\n", 'a,a\n1,2\n'])
def test_a_large_csv_is_refused_with_the_words_of_the_small_path(large, tmp_path, monkeypatch, text):
    path = tmp_path / "faulty.csv"
    path.write_text(text, newline="")
    monkeypatch.setattr(loading, "LARGE_FILE_BYTES", 10**12)
    expected = error_of(path)
    monkeypatch.setattr(loading, "LARGE_FILE_BYTES", 0)
    assert error_of(path) == expected
    assert "line" in expected or "column" in expected


def test_a_second_load_of_the_same_content_reuses_the_arrow_file(large, tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "data.jsonl", VARIED)
    first = load_dataset_source(str(path))
    assert len(list(large.glob("*.arrow"))) == 1

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr(loading, "_jsonl_records", no_parsing)
    assert load_dataset_source(str(path)).to_list() == first.to_list()
    write_jsonl(path, VARIED[:5])
    with pytest.raises(AssertionError, match="parsed again"):
        load_dataset_source(str(path))  # new content, new key: parsed


def test_a_large_file_with_no_rows_is_refused(large, tmp_path):
    path = tmp_path / "blank.jsonl"
    path.write_text("\n  \n\n")
    assert "no rows" in error_of(path)


# --- large files: the preview ---------------------------------------------------------------------


@pytest.fixture
def preview_of(settings, monkeypatch):
    """A preview that counts every file as large and reads (and checks) the first 20 rows."""
    monkeypatch.setattr(loading, "LARGE_FILE_BYTES", 0)
    monkeypatch.setattr(dataset_service, "PREVIEW_CHECK_ROWS", 20)
    service = DatasetService(settings)
    return lambda path, task="text-generation": service.preview(str(path), task)


def alpaca(count):
    return [{"instruction": f"Question {i}?", "input": "", "output": f"Answer {i}."} for i in range(count)]


def test_a_large_file_preview_checks_the_first_rows_and_counts_them_all(preview_of, tmp_path):
    path = tmp_path / "big.jsonl"
    lines = [json.dumps(row) for row in alpaca(50)]
    lines[30] = "   " + lines[30]  # a line that starts with whitespace is still a row
    path.write_text("\ufeff" + "\n".join(lines[:10]) + "\n\n  \n" + "\n".join(lines[10:]), encoding="utf-8")
    preview = preview_of(path)
    assert preview.ok and preview.num_rows == 50 and preview.checked_rows == 20, preview.message
    assert preview.message == ("50 rows, shape 'alpaca': ready. Trained by strategy 'sft', 'qlora' or 'grpo'. Checked the first "
                               "20 of 50 rows; the dataset check and Start check them all.")
    assert [row["instruction"] for row in preview.rows] == [f"Question {i}?" for i in range(5)]


def test_a_large_file_preview_finds_faults_in_the_rows_it_checks_only(preview_of, tmp_path):
    rows = alpaca(50)
    rows[7]["output"] = ""
    preview = preview_of(write_jsonl(tmp_path / "early.jsonl", rows))
    assert not preview.ok and "row 8" in preview.message and "Checked the first 20 of 50 rows" in preview.message
    rows = alpaca(50)
    rows[40]["output"] = ""
    late = write_jsonl(tmp_path / "late.jsonl", rows)
    assert preview_of(late).ok, "row 41 is beyond the rows the preview checks"
    with pytest.raises(DatasetValidationError, match="row 41"):
        load_validated_dataset(str(late), task="text-generation")


def test_a_large_file_with_fewer_rows_than_checked_is_checked_whole(preview_of, tmp_path):
    preview = preview_of(write_jsonl(tmp_path / "few.jsonl", alpaca(12)))
    assert preview.ok and preview.num_rows == preview.checked_rows == 12
    assert preview.message == "12 rows, shape 'alpaca': ready. Trained by strategy 'sft', 'qlora' or 'grpo'."


def test_a_large_csv_and_parquet_preview_count_their_rows(preview_of, tmp_path):
    import pandas as pd

    csv_path = tmp_path / "big.csv"
    pd.DataFrame(alpaca(30)).assign(output=lambda f: f.output + ',\n"quoted"').to_csv(csv_path, index=False)
    preview = preview_of(csv_path)
    assert preview.ok and preview.num_rows == 30 and preview.checked_rows == 20, preview.message
    assert preview.rows[0]["output"] == 'Answer 0.,\n"quoted"'
    parquet = tmp_path / "big.parquet"
    pd.DataFrame(alpaca(45)).to_parquet(parquet, row_group_size=7)
    preview = preview_of(parquet)
    assert preview.ok and preview.num_rows == 45 and preview.checked_rows == 20, preview.message


@pytest.mark.parametrize("name,text", [
    ("crlf.csv", 'a,b\r\n1,"x\r\ny"\r\n\r\n2,""""\r\n3,4'),
    ("blank.csv", 'a,b\n\n\n1,2\n"3\n\n",4\n\n'),
    ("ends.jsonl", '\n{"t": "a"}\r\n \t\n{"t": "b\\n"}\n\n{"t": "c"}'),
])
def test_the_row_count_from_bytes_matches_the_rows_read(tmp_path, monkeypatch, name, text):
    from modelforge_core.data import row_count

    path = tmp_path / name
    path.write_bytes(text.encode())
    monkeypatch.setattr(row_count, "_CHUNK", 4)  # lines and quoted fields across chunk ends
    count = row_count.count_csv_records if name.endswith(".csv") else row_count.count_jsonl_rows
    assert count(path) == len(load_dataset_source(str(path)))
