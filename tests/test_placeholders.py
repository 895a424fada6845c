"""{{placeholders}} in the data: found with their rows (nested in messages too), filled from replacements, and
warned about in the notes of a run when left unfilled."""

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets

from modelforge_core.data.pipeline import load_training_splits
from modelforge_core.data.placeholders import (
    dataset_placeholder_warnings,
    fill_placeholders,
    find_placeholders,
    placeholder_warnings,
)
from modelforge_core.schemas import TrainingConfig


def identity_chats() -> datasets.Dataset:
    """LLaMA-Factory's identity data as messages: the name in the answer, the author nested deeper."""
    rows = [
        {"messages": [{"role": "user", "content": "Who are you?"},
                      {"role": "assistant", "content": "I am {{name}}, made by {{ author }}."}]},
        {"messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there."}]},
        {"messages": [{"role": "user", "content": "Your name?"}, {"role": "assistant", "content": "{{name}}. {{name}}!"}]},
    ]
    return datasets.Dataset.from_list(rows)


def test_placeholders_are_found_in_nested_messages_with_their_rows():
    found = find_placeholders(identity_chats())
    assert list(found) == ["name", "author"]
    assert (found["name"].rows, found["name"].first_rows) == (2, [1, 3]), "a row holding a key twice counts once"
    assert (found["author"].rows, found["author"].first_rows) == (1, [1]), "spaces inside the braces are allowed"


def test_placeholders_are_found_in_every_column_and_across_batches():
    rows = [{"instruction": "Say hi", "output": "Hi", "meta": {"notes": ["plain"]}} for _ in range(2500)]
    for index in (4, 999, 1000, 2499):
        rows[index]["meta"] = {"notes": ["by {{org.team-1}}"]}
    for index in range(20, 40):
        rows[index]["instruction"] = "Who is {{name}}?"
    found = find_placeholders(datasets.Dataset.from_list(rows))
    assert found["org.team-1"].first_rows == [5, 1000, 1001, 2500], "rows are 1-based, counted over all batches"
    assert found["name"].rows == 20 and found["name"].first_rows == list(range(21, 31))
    assert found["name"].where() == "20 rows: rows 21, 22, 23, 24, 25, 26, 27, 28, 29, 30 and 10 more"
    assert len(found) == 2


def test_text_without_placeholders_finds_none():
    plain = datasets.Dataset.from_dict({"text": ["a {single} brace", "{{ }}", "{{two words}}", None]})
    assert find_placeholders(plain) == {}
    assert dataset_placeholder_warnings(plain) == []


def test_filling_replaces_the_mapped_keys_everywhere_and_keeps_the_rest():
    data = identity_chats()
    filled = fill_placeholders(data, {"name": "Forge"})
    assert filled.features == data.features and filled.column_names == data.column_names
    answers = [row["messages"][1]["content"] for row in filled]
    assert answers == ["I am Forge, made by {{ author }}.", "Hi there.", "Forge. Forge!"]
    both = fill_placeholders(data, {"name": "Forge", "author": "Acme"})
    assert both[0]["messages"] == [{"role": "user", "content": "Who are you?"},
                                   {"role": "assistant", "content": "I am Forge, made by Acme."}]
    assert find_placeholders(both) == {}
    assert fill_placeholders(data, None) is data


def test_filling_keeps_other_column_types():
    data = datasets.Dataset.from_dict({"text": ["{{name}} here", None], "score": [1, 2], "tags": [["{{name}}"], []]})
    filled = fill_placeholders(data, {"name": "Forge"})
    assert filled.features == data.features
    assert filled.to_list() == [{"text": "Forge here", "score": 1, "tags": ["Forge"]},
                                {"text": None, "score": 2, "tags": []}]


def test_the_warnings_name_unfilled_keys_with_their_rows_and_unused_replacements():
    found = find_placeholders(identity_chats())
    (unfilled,) = placeholder_warnings(found, None)
    assert unfilled == (
        "2 placeholders are not filled and will be trained literally: {{name}} (2 rows: rows 1, 3), "
        '{{author}} (1 row: row 1). Fill them with replacements, e.g. {"name": "...", "author": "..."}'
    )
    one, unused = placeholder_warnings(found, {"name": "Forge", "nmae": "Forge"})
    assert one.startswith("1 placeholder is not filled and will be trained literally: {{author}} (1 row: row 1).")
    assert unused == "replacements names 'nmae', which the data never holds as {{key}}; placeholders in the data: {{name}}, {{author}}."
    assert placeholder_warnings(found, {"name": "Forge", "author": "Acme"}) == []


def _identity_file(tmp_path, count=12):
    rows = [{"instruction": f"Question {i}: who are you?", "output": f"I am {{{{name}}}}, answer {i}."} for i in range(count)]
    rows[5]["output"] = "Made by {{author}}."
    path = tmp_path / "identity.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _config(path, **fields) -> TrainingConfig:
    return TrainingConfig(model_name="/models/demo", dataset=str(path), eval_split=0.25, seed=3, **fields)


def test_a_run_on_unfilled_placeholders_warns_in_its_notes(tmp_path):
    splits = load_training_splits(_config(_identity_file(tmp_path)))
    warning = ("2 placeholders are not filled and will be trained literally: {{name}} (11 rows: rows 1, 2, 3, 4, 5, "
               "7, 8, 9, 10, 11 and 1 more), {{author}} (1 row: row 6).")
    assert splits.warnings[0].startswith(warning) and splits.notes[1] == splits.warnings[0]
    assert any("{{name}}" in row["output"] for row in splits.train), "unfilled: trained literally, as said"


def test_a_run_with_replacements_trains_the_filled_rows(tmp_path):
    splits = load_training_splits(_config(_identity_file(tmp_path), replacements={"name": "Forge", "author": "Acme"}))
    assert splits.warnings == []
    outputs = sorted(row["output"] for part in (splits.train, splits.eval) for row in part)
    assert "Made by Acme." in outputs and sum(output.startswith("I am Forge, answer") for output in outputs) == 11
    assert not any("{{" in output for output in outputs)


def test_a_replacement_the_data_never_holds_is_a_warning(tmp_path):
    splits = load_training_splits(_config(_identity_file(tmp_path), replacements={"name": "Forge", "author": "A", "team": "B"}))
    assert splits.warnings == [
        "replacements names 'team', which the data never holds as {{key}}; placeholders in the data: {{name}}, {{author}}."
    ]
