"""DatasetValidator: row counts, required fields, and per-row values with 1-based row numbers."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets
import pytest

from modelforge_core.data.formats import RecordShape
from modelforge_core.evaluation.dataset_validator import (
    DatasetValidator,
    ValidationIssue,
    ValidationReport,
)
from modelforge_core.exceptions import DatasetValidationError


def validate(rows, shape, min_rows=1, **kwargs):
    dataset = datasets.Dataset.from_list(rows) if isinstance(rows, list) else datasets.Dataset.from_dict(rows)
    return DatasetValidator(min_rows=min_rows, **kwargs).validate(dataset, shape, source="data.jsonl")


def only_issue(report):
    assert report.total_issues == 1, report.summary()
    return report.issues[0]


def msg(role, content):
    return {"role": role, "content": content}


def test_valid_dataset_is_ok():
    rows = [{"instruction": f"Q{i}", "input": "", "output": f"A{i}"} for i in range(12)]
    report = DatasetValidator().validate(datasets.Dataset.from_list(rows), RecordShape.ALPACA, source="a.jsonl")
    assert report.ok and report.num_rows == 12 and report.shape is RecordShape.ALPACA
    assert report.columns == ["instruction", "input", "output"]
    assert "No problems" in report.summary() and "a.jsonl" in report.summary()
    report.raise_if_invalid()


def test_too_few_rows():
    report = DatasetValidator(min_rows=10).validate(datasets.Dataset.from_list([{"text": "a"}] * 3), RecordShape.TEXT)
    issue = only_issue(report)
    assert issue.row is None and "3 row" in issue.message and "at least 10" in issue.message


def test_missing_required_field():
    issue = only_issue(validate([{"instruction": "Q", "answer": "A"}], RecordShape.ALPACA))
    assert issue.field == "output" and issue.row is None
    assert "missing" in issue.message and "instruction, answer" in issue.message
    assert "column_mapping" in issue.hint


def test_summarization_accepts_article_or_text():
    assert validate([{"article": "Long text.", "summary": "Short."}], RecordShape.SUMMARIZATION).ok
    assert validate([{"text": "Long text.", "summary": "Short."}], RecordShape.SUMMARIZATION).ok
    issue = only_issue(validate([{"body": "Long text.", "summary": "Short."}], RecordShape.SUMMARIZATION))
    assert issue.field == "document" and "article" in issue.message


@pytest.mark.parametrize("bad", ["", "   \n", None])
def test_empty_value_names_row_and_field(bad):
    rows = [{"input": "Q1", "output": "A1"}, {"input": "Q2", "output": bad}, {"input": "Q3", "output": "A3"}]
    issue = only_issue(validate(rows, RecordShape.MODELFORGE))
    assert (issue.row, issue.field) == (2, "output")
    assert ("empty" if bad is not None else "null") in issue.message


def test_alpaca_input_may_be_empty_or_missing():
    rows = [{"instruction": "Q1", "input": "", "output": "A1"}, {"instruction": "Q2", "input": None, "output": "A2"}]
    assert validate(rows, RecordShape.ALPACA).ok
    assert validate([{"instruction": "Q", "output": "A"}], RecordShape.ALPACA).ok


def test_wrong_type():
    issue = validate({"input": ["Q1", "Q2"], "output": [1, 2]}, RecordShape.MODELFORGE).issues[0]
    assert (issue.row, issue.field) == (1, "output") and "expected a string" in issue.message and "number" in issue.message
    issue = only_issue(validate({"instruction": ["Q"], "input": [3], "output": ["A"]}, RecordShape.ALPACA))
    assert issue.field == "input" and "expected a string" in issue.message


@pytest.mark.parametrize(
    "messages,words",
    [
        ([], "non-empty list"),
        ("Hi", "list of messages"),
        ([msg("user", "Hi"), msg("bot", "Hello")], "role 'bot'"),
        ([msg("user", "Hi"), msg("assistant", "")], "message 2: content is empty"),
        ([msg("user", "Hi"), msg("assistant", "Hello"), msg("user", "Bye")], "last message must be from the assistant"),
        ([msg("system", "Sys"), msg("assistant", "Hello")], "user message"),
    ],
)
def test_bad_messages(messages, words):
    rows = [{"messages": [msg("user", "Hi"), msg("assistant", "Hello")]}, {"messages": messages}]
    if isinstance(messages, str):
        rows = [{"messages": messages}, {"messages": messages}]
    report = validate(rows, RecordShape.CONVERSATIONAL)
    issue = report.issues[0]
    assert issue.field == "messages" and issue.row == (1 if isinstance(messages, str) else 2)
    assert words in issue.message


def test_good_messages():
    rows = [{"messages": [msg("system", "Sys"), msg("user", "Hi"), msg("assistant", "Hello")]}]
    assert validate(rows, RecordShape.CONVERSATIONAL).ok


def test_sharegpt():
    good = [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]
    bad = [{"from": "human", "value": "Hi"}, {"from": "robot", "value": "Hello"}]
    issue = only_issue(validate([{"conversations": good}, {"conversations": bad}], RecordShape.SHAREGPT))
    assert (issue.row, issue.field) == (2, "conversations") and "'robot'" in issue.message


def test_preference_strings_and_message_lists():
    assert validate([{"prompt": "Q", "chosen": "Good", "rejected": "Bad"}], RecordShape.PREFERENCE).ok
    lists = {"prompt": [msg("user", "Q")], "chosen": [msg("assistant", "Good")], "rejected": [msg("assistant", "Bad")]}
    assert validate([lists], RecordShape.PREFERENCE).ok
    issue = only_issue(validate([{"prompt": "Q", "chosen": "Same", "rejected": "Same"}], RecordShape.PREFERENCE))
    assert issue.field == "rejected" and "same as 'chosen'" in issue.message
    issue = only_issue(validate({"prompt": ["Q"], "chosen": ["Good"], "rejected": [7]}, RecordShape.PREFERENCE))
    assert issue.field == "rejected" and "string or a list of messages" in issue.message


def squad(context, text, start):
    return {"context": context, "question": "Where?", "answers": {"text": [text], "answer_start": [start]}}


def test_squad_answers():
    context = "Paris is the capital of France."
    assert validate([squad(context, "France", 24)], RecordShape.EXTRACTIVE_QA).ok
    issue = only_issue(validate([squad(context, "France", 24), squad(context, "France", 3)], RecordShape.EXTRACTIVE_QA))
    assert (issue.row, issue.field) == (2, "answers") and "answer_start 3" in issue.message and "occurs at 24" in issue.message


def test_squad_unanswerable_rows_are_allowed():
    row = {"context": "Text.", "question": "Q?", "answers": {"text": [], "answer_start": []}}
    assert validate([row, squad("Paris is nice.", "Paris", 0)], RecordShape.EXTRACTIVE_QA).ok


def test_answers_of_wrong_type():
    row = {"context": "Paris.", "question": "Where?", "answers": "Paris"}
    issue = only_issue(validate([row], RecordShape.EXTRACTIVE_QA))
    assert issue.field == "answers" and "SQuAD" in issue.message


def test_answer_string_must_occur_in_context():
    rows = [
        {"context": "Paris is in France.", "question": "Where?", "answer": "France"},
        {"context": "Paris is in France.", "question": "Where?", "answer": "Spain"},
    ]
    issue = only_issue(validate(rows, RecordShape.EXTRACTIVE_QA))
    assert (issue.row, issue.field) == (2, "answer") and "does not occur" in issue.message


def test_counts_all_but_keeps_max_reported():
    rows = [{"text": ""} for _ in range(30)]
    report = validate(rows, RecordShape.TEXT, max_reported=5)
    assert len(report.issues) == 5 and report.total_issues == 30 and not report.ok
    assert [issue.row for issue in report.issues] == [1, 2, 3, 4, 5]
    summary = report.summary()
    assert "30 problem" in summary and "row 1, field 'text'" in summary and "more" in summary


def test_raise_if_invalid_names_source_rows_and_fields():
    rows = [{"input": "Q", "output": "A"}, {"input": "", "output": "A"}, {"input": "Q", "output": None}]
    with pytest.raises(DatasetValidationError) as info:
        validate(rows, RecordShape.MODELFORGE).raise_if_invalid()
    message = info.value.message
    assert "data.jsonl" in message and "row 2, field 'input'" in message and "row 3, field 'output'" in message
    assert info.value.hint


def test_report_can_be_built_directly():
    report = ValidationReport("x", None, 0, [], [ValidationIssue(3, "text", "is empty")])
    assert not report.ok and report.total_issues == 1 and "row 3, field 'text'" in report.summary()
