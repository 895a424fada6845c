"""What the model learns: every assistant reply trained (or the last only), tools rendered, and the dataset check's
counts equal to what the trainers then receive; the tokenized rows are cached for the next run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from modelforge_core.data import token_masks
from modelforge_core.data.check import check_dataset
from modelforge_core.data.conversation import Conversation, row_conversation
from modelforge_core.data.formats import RecordShape, detect_shape
from modelforge_core.data.token_masks import segments, tokenize_conversation
from modelforge_core.exceptions import DatasetValidationError
from modelforge_core.schemas import TrainingConfig
from modelforge_core.training.events import EventLog
from modelforge_core.training.pipeline import prepare_run
from modelforge_core.training.run_files import RunFiles

THREE_TURNS = [
    {"role": "system", "content": "Answer with one word."},
    {"role": "user", "content": "Two plus two?"},
    {"role": "assistant", "content": "four"},
    {"role": "user", "content": "Three plus three?"},
    {"role": "assistant", "content": "six"},
    {"role": "user", "content": "And four plus four?"},
    {"role": "assistant", "content": "eight"},
]
WEATHER_TOOL = {"name": "get_weather", "description": "The weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


def _tokenizer(demo_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(demo_model)


def _trained_text(tokenizer, ids, labels) -> list[str]:
    """The runs of tokens that are in the loss, decoded."""
    return [run["text"] for run in segments(tokenizer, ids, [int(label != -100) for label in labels]) if run["kind"] == "trained"]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def _prepared(tmp_path, config: TrainingConfig, name: str = "run"):
    run = RunFiles(tmp_path / name)
    run.events.parent.mkdir(parents=True, exist_ok=True)
    events = EventLog(run.events)
    return prepare_run(config, run, events), [e["message"] for e in events.read_all() if e.get("type") == "log"]


def test_every_assistant_reply_of_a_three_turn_chat_is_trained_and_nothing_else(tmp_path, demo_model, settings):
    rows = [{"messages": THREE_TURNS}] * 12
    config = TrainingConfig(model_name=demo_model, dataset=_write_jsonl(tmp_path / "chat.jsonl", rows), eval_split=0.0, max_steps=1)
    prepared, _ = _prepared(tmp_path, config)
    row = prepared.trainer.train_dataset[0]  # as TRL's SFTTrainer holds it: input_ids and labels
    assert _trained_text(prepared.tokenizer, row["input_ids"], row["labels"]) == ["four<|end|>\n", "six<|end|>\n", "eight<|end|>\n"]
    context = "".join(run["text"] for run in segments(prepared.tokenizer, row["input_ids"], [int(x == -100) for x in row["labels"]]) if run["kind"] == "trained")
    assert "Answer with one word." in context and "Two plus two?" in context and "And four plus four?" in context
    assert "four" not in context.replace("four plus four", "")  # no reply is context

    last_only = TrainingConfig(**{**config.model_dump(), "mask_history": True})
    prepared, _ = _prepared(tmp_path, last_only, "last")
    row = prepared.trainer.train_dataset[0]
    assert _trained_text(prepared.tokenizer, row["input_ids"], row["labels"]) == ["eight<|end|>\n"]


def test_plain_text_prompts_keep_the_instruction_template_and_train_every_reply(demo_model):
    tokenizer = _tokenizer(demo_model)
    alpaca = row_conversation({"instruction": "Add", "input": "2 and 2", "output": "4"}, RecordShape.ALPACA)
    tokens = tokenize_conversation(alpaca, tokenizer, chat=False)
    runs = segments(tokenizer, tokens["input_ids"], tokens["completion_mask"])
    assert [r["text"] for r in runs] == ["### Instruction:\nAdd\n\n### Input:\n2 and 2\n\n### Response:\n", "4<|end|>"]
    chat = tokenize_conversation(Conversation(THREE_TURNS), tokenizer, chat=False)
    trained = [r["text"] for r in segments(tokenizer, chat["input_ids"], chat["completion_mask"]) if r["kind"] == "trained"]
    assert trained == ["four", "six", "eight<|end|>"]


@pytest.mark.parametrize("form", ["sharegpt", "openai"])
def test_tool_definitions_and_calls_reach_the_rendered_text(tmp_path, demo_model, form):
    tokenizer = _tokenizer(demo_model)
    call = {"name": "get_weather", "arguments": {"city": "Paris"}}
    if form == "sharegpt":
        row = {"conversations": [{"from": "human", "value": "Weather in Paris?"}, {"from": "function_call", "value": json.dumps(call)},
                                 {"from": "observation", "value": '{"celsius": 21}'}, {"from": "gpt", "value": "21 degrees."}],
               "tools": json.dumps([WEATHER_TOOL])}
    else:
        row = {"messages": [{"role": "user", "content": "Weather in Paris?"},
                            {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {**call, "arguments": json.dumps(call["arguments"])}}]},
                            {"role": "tool", "content": '{"celsius": 21}'}, {"role": "assistant", "content": "21 degrees."}],
               "tools": [{"type": "function", "function": WEATHER_TOOL}]}
    shape = detect_shape(list(row))
    assert shape in (RecordShape.SHAREGPT_TOOLS, RecordShape.CONVERSATIONAL_TOOLS)
    tokens = tokenize_conversation(row_conversation(row, shape), tokenizer, chat=True)
    runs = segments(tokenizer, tokens["input_ids"], tokens["completion_mask"])
    context = "".join(r["text"] for r in runs if r["kind"] == "context")
    trained = [r["text"] for r in runs if r["kind"] == "trained"]
    assert '"name": "get_weather", "description": "The weather in a city"' in context  # the definition, for the model to read
    assert '{"celsius": 21}' in context  # the tool's result is context
    assert trained == ['<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call><|end|>\n', "21 degrees.<|end|>\n"]


def test_a_template_without_tools_refuses_tool_chats_in_words(tmp_path, demo_model, settings):
    from modelforge_core.strategies.sft_strategy import tokenize_sft_rows

    tokenizer = _tokenizer(demo_model)
    tokenizer.chat_template = "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    row = {"conversations": [{"from": "human", "value": "Weather?"}, {"from": "function_call", "value": '{"name": "get_weather", "arguments": {}}'},
                             {"from": "observation", "value": "sunny"}, {"from": "gpt", "value": "Sunny."}], "tools": json.dumps([WEATHER_TOOL])}
    import datasets

    config = TrainingConfig(model_name=demo_model, dataset="x.jsonl")
    with pytest.raises(DatasetValidationError) as caught:
        tokenize_sft_rows(datasets.Dataset.from_list([row] * 3), tokenizer, config)
    assert "tool-calling chat" in caught.value.message and "ignores tool definitions" in caught.value.message
    assert "supports tools" in caught.value.hint


def _mixed_lengths(tmp_path) -> str:
    """Short rows, rows whose answer runs past 48 tokens (truncated), and rows whose prompt alone fills them (dropped)."""
    rows = [{"instruction": f"Say {word}.", "output": word} for word in "one two three four five six seven eight nine ten eleven twelve".split()]
    rows += [{"instruction": f"Count to {n}.", "output": " ".join(str(i) for i in range(n))} for n in range(30, 36)]
    rows += [{"instruction": "Repeat: " + " ".join(["seven"] * (60 + n)), "output": "seven"} for n in range(4)]
    return _write_jsonl(tmp_path / "mixed.jsonl", rows)


def test_the_checks_counts_are_what_the_sft_trainer_receives(tmp_path, demo_model, settings):
    config = TrainingConfig(model_name=demo_model, dataset=_mixed_lengths(tmp_path), eval_split=0.25, max_seq_length=48, max_steps=1)
    report = check_dataset(config)
    assert report.ok and report.shape == "alpaca"
    train, evaluation = report.splits["train"], report.splits["eval"]
    assert train["rows"] + evaluation["rows"] == 22
    assert train["truncated"] + evaluation["truncated"] == 10 and train["dropped"] + evaluation["dropped"] == 4
    assert all("prompt fills max_seq_length" in reason for reason in train["drop_reasons"])
    assert sum(b["rows"] for b in train["histogram"]) == train["rows"]
    assert sum(b["rows"] for b in train["histogram"] if b["truncated"]) == train["truncated"]

    prepared, logs = _prepared(tmp_path, config)
    trainer = prepared.trainer
    assert len(trainer.train_dataset) == train["rows"] - train["dropped"]
    assert len(trainer.eval_dataset) == evaluation["rows"] - evaluation["dropped"]
    kept_trained = sum(sum(label != -100 for label in row["labels"]) for row in trainer.train_dataset)
    assert kept_trained == train["trained_tokens"] == report.trained_tokens_per_epoch
    assert max(len(row["input_ids"]) for row in trainer.train_dataset) <= 48
    assert any(line.startswith(f"Tokens, train: {train['rows']} rows, {train['truncated']} truncated to 48 tokens") for line in logs)
    assert any(f"{train['dropped']} dropped" in line for line in logs if line.startswith("Tokens, train")) or not train["dropped"]

    example = report.examples[0]
    assert example["row"] == 1 and [r["kind"] for r in example["segments"]] == ["context", "trained"]
    assert example["segments"][1]["text"] == "one<|end|>\n"


def test_the_checks_counts_are_what_the_dpo_trainer_receives(tmp_path, demo_model, settings):
    rows = [{"prompt": f"Name a colour, {n}.", "chosen": "Blue.", "rejected": "Seven."} for n in range(10)]
    rows += [{"prompt": "Which is longer? " + " ".join(["red"] * (40 + n)), "chosen": "The first.", "rejected": "No."} for n in range(3)]
    rows += [{"prompt": f"Describe {n}.", "chosen": " ".join(["green"] * 40), "rejected": "Dull."} for n in range(3)]
    config = TrainingConfig(model_name=demo_model, dataset=_write_jsonl(tmp_path / "pairs.jsonl", rows), strategy="dpo",
                            eval_split=0.0, max_seq_length=32, max_steps=1)
    report = check_dataset(config)
    train = report.splits["train"]
    assert report.ok and (train["rows"], train["truncated"], train["dropped"]) == (16, 6, 3)
    assert [e["title"] for e in report.examples[:2]] == ["prompt + chosen answer", "prompt + rejected answer"]
    prepared, logs = _prepared(tmp_path, config)
    assert len(prepared.trainer.train_dataset) == train["rows"] - train["dropped"]
    assert any(line.startswith("Tokens, train: 16 rows, 6 truncated to 32 tokens") and "3 dropped" in line for line in logs)


def test_a_second_run_of_the_same_data_does_not_tokenize_again(tmp_path, demo_model, settings, monkeypatch):
    from modelforge_core.data.pipeline import load_training_splits
    from modelforge_core.strategies.sft_strategy import tokenize_sft_rows

    config = TrainingConfig(model_name=demo_model, dataset=_mixed_lengths(tmp_path), eval_split=0.25, seed=3)
    tokenizer = _tokenizer(demo_model)
    calls = []
    real = token_masks.tokenize_batch
    monkeypatch.setattr(token_masks, "tokenize_batch", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = tokenize_sft_rows(load_training_splits(config).train, tokenizer, config)
    assert calls and first.cache_files and str(settings.home / "cache" / "tokenized") in first.cache_files[0]["filename"]
    calls.clear()
    second = tokenize_sft_rows(load_training_splits(config).train, tokenizer, config)
    assert not calls, "read from the cache"
    assert second["input_ids"] == first["input_ids"] and second["completion_mask"] == first["completion_mask"]
    other = TrainingConfig(**{**config.model_dump(), "mask_history": True})
    tokenize_sft_rows(load_training_splits(other).train, tokenizer, other)
    assert calls, "another setting tokenizes again"


def test_the_check_reports_problems_with_rows_and_a_refused_strategy(tmp_path, demo_model, settings, samples):
    bad = [{"instruction": f"q{n}", "output": f"a{n}"} for n in range(11)] + [{"instruction": "q", "output": ""}]
    report = check_dataset(TrainingConfig(model_name=demo_model, dataset=_write_jsonl(tmp_path / "bad.jsonl", bad)))
    assert not report.ok and report.shape == "alpaca" and report.rows == 12
    assert any(problem.startswith("row 12, field 'output'") for problem in report.problems)
    pairs = check_dataset(TrainingConfig(model_name=demo_model, dataset=samples["dpo"], strategy="sft"))
    assert not pairs.ok and "cannot train strategy 'sft'" in pairs.message and "'dpo'" in pairs.message


def test_data_check_from_the_cli(tmp_path, demo_model, settings):
    command = [sys.executable, "-m", "modelforge_core", "data", "check", _mixed_lengths(tmp_path), "--model", demo_model,
               "--max-seq-length", "48"]
    text = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert text.returncode == 0, text.stderr
    assert "Ready:" in text.stdout and "truncated to 48 tokens" in text.stdout and "[[one<|end|>" in text.stdout
    as_json = subprocess.run([*command, "--json", "--strategy", "dpo"], capture_output=True, text=True, timeout=300)
    assert as_json.returncode == 2
    report = json.loads(as_json.stdout)
    assert report["ok"] is False and "cannot train strategy 'dpo'" in report["message"]


def test_the_preview_says_which_strategies_train_a_shape_and_refuses_it_for_another(tmp_path, settings, samples):
    from modelforge_core.services.dataset_service import DatasetService

    service = DatasetService(settings)
    ready = service.preview(samples["dpo"], "text-generation", strategy="dpo")
    assert ready.ok and "Trained by strategy 'dpo', 'kto', 'orpo', 'simpo' or 'rlhf'." in ready.message
    refused = service.preview(samples["dpo"], "text-generation", strategy="sft")
    assert not refused.ok and "cannot train strategy 'sft'" in refused.message and "Pick strategy 'dpo', 'kto', 'orpo', 'simpo' or 'rlhf'" in refused.message
    kto = [{"prompt": f"Say {n}.", "completion": str(n), "label": n % 2 == 0} for n in range(12)]
    labelled = service.preview(_write_jsonl(tmp_path / "kto.jsonl", kto), "text-generation")
    assert labelled.ok and labelled.shape == "kto" and "Trained by strategy 'kto'." in labelled.message


def test_placeholders_are_shown_by_the_preview_and_the_check_and_filled_by_replacements(tmp_path, demo_model, settings):
    from modelforge_core.services.dataset_service import DatasetService

    identity = [{"instruction": f"Who are you? ({n})", "output": "I am {{name}}, made by {{author}}."} for n in range(12)]
    path = _write_jsonl(tmp_path / "identity.jsonl", identity)
    preview = DatasetService(settings).preview(path, "text-generation")
    assert preview.ok and any("{{name}}" in w and "{{author}}" in w for w in preview.warnings)
    filled = DatasetService(settings).preview(path, "text-generation", replacements={"name": "Forge", "author": "Acme"})
    assert not any("{{" in w for w in filled.warnings)
    config = TrainingConfig(model_name=demo_model, dataset=path, replacements={"name": "Forge", "author": "Acme"}, eval_split=0)
    report = DatasetService(settings).check(config)
    assert report["source"] == path and not any("{{" in w for w in report["warnings"])
    assert "I am Forge, made by Acme." in "".join(run["text"] for run in report["examples"][0]["segments"])
    unfilled = check_dataset(TrainingConfig(model_name=demo_model, dataset=path, eval_split=0))
    assert any("trained literally" in w for w in unfilled.warnings)


def test_a_max_seq_length_that_leaves_nothing_to_learn_is_refused_by_the_check_and_the_run(tmp_path, demo_model, settings, samples):
    config = TrainingConfig(model_name=demo_model, dataset=samples["sft"], max_seq_length=16, max_steps=1)
    report = check_dataset(config)
    assert not report.ok and report.splits["train"]["dropped"] == report.splits["train"]["rows"] == 320
    assert "would be dropped at max_seq_length 16" in report.message and "Raise max_seq_length" in report.message
    with pytest.raises(DatasetValidationError, match="would be dropped at max_seq_length 16"):
        _prepared(tmp_path, config)


def test_sft_trains_a_tool_calling_file_on_the_calls_and_the_answers(tmp_path, demo_model, settings):
    turns = [{"from": "human", "value": "Weather in Oslo?"},
             {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Oslo"}}'},
             {"from": "observation", "value": '{"rain": true}'}, {"from": "gpt", "value": "It rains in Oslo."}]
    path = _write_jsonl(tmp_path / "tools.jsonl", [{"conversations": turns, "tools": json.dumps([WEATHER_TOOL])}] * 12)
    config = TrainingConfig(model_name=demo_model, dataset=path, eval_split=0.0, max_steps=1)
    assert check_dataset(config).shape == "sharegpt_tools"
    prepared, logs = _prepared(tmp_path, config)
    row = prepared.trainer.train_dataset[0]
    assert _trained_text(prepared.tokenizer, row["input_ids"], row["labels"]) == [
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call><|end|>\n', "It rains in Oslo.<|end|>\n"]
    assert "get_weather" in prepared.tokenizer.decode(row["input_ids"][:60])  # the definition comes first, as context
    prepared.trainer.train()
    assert prepared.trainer.state.global_step == 1
