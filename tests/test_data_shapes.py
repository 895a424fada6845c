"""Dataset shapes people bring: preference pairs in ShareGPT and messages style, KTO's labelled chats, and
tool-calling chats in the ShareGPT and OpenAI forms; each detected, checked row by row, and trained by the
strategies that can (or refused in words naming the shape and the strategies that would)."""

from __future__ import annotations

import json

import pytest

from modelforge_core.data.formats import RecordShape, shape_in_words
from modelforge_core.data.pipeline import load_validated_dataset
from modelforge_core.data.shape_strategies import shape_refusal, strategies_for_shape, trained_by_in_words
from modelforge_core.exceptions import DatasetValidationError
from modelforge_core.services.run_validation import validate_run
from modelforge_core.strategies.preference_strategy import preference_rows

from jobs_helpers import run_to_end

TEXT_GENERATION = "text-generation"
WEATHER_TOOLS = [
    {"name": "get_weather", "description": "The weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
    {"type": "function", "function": {"name": "get_time", "description": "The time in a city", "parameters": {"type": "object"}}},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def human(text):
    return {"from": "human", "value": text}


def gpt(text):
    return {"from": "gpt", "value": text}


def msg(role, content, **extra):
    return {"role": role, "content": content, **extra}


def sharegpt_pairs(count=12):
    return [
        {"conversations": [human(f"What is {i} plus {i}?")], "chosen": gpt(f"{i} plus {i} is {2 * i}."), "rejected": gpt("I do not know.")}
        for i in range(count)
    ]


def messages_pairs(count=12):
    return [
        {
            "messages": [msg("system", "Be brief."), msg("user", f"Name {i}?")],
            "chosen": msg("assistant", f"Name {i}."), "rejected": msg("assistant", "No."),
        }
        for i in range(count)
    ]


def kto_chats(count=12, label="label"):
    return [
        {"conversations": [human(f"Capital {i}?"), gpt("Paris." if i % 2 else "Mars.")], label: bool(i % 2)}
        for i in range(count)
    ]


def sharegpt_tool_chat(city="Paris"):
    call = json.dumps({"name": "get_weather", "arguments": {"city": city}})
    return {
        "conversations": [human(f"Weather in {city}?"), {"from": "function_call", "value": call},
                          {"from": "observation", "value": "18 C, sunny"}, gpt(f"It is 18 C and sunny in {city}.")],
        "tools": json.dumps(WEATHER_TOOLS),
    }


def openai_call(name, arguments='{"city": "Paris"}'):
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


def openai_tool_chat(city="Paris"):
    return {
        "messages": [
            msg("system", "You can call tools."), msg("user", f"Weather in {city}?"),
            msg("assistant", None, tool_calls=[openai_call("get_weather", json.dumps({"city": city}))]),
            msg("tool", "18 C, sunny", tool_call_id="call_1"), msg("assistant", f"18 C and sunny in {city}."),
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}}],
    }


def issues_of(path):
    with pytest.raises(DatasetValidationError) as info:
        load_validated_dataset(path, task=TEXT_GENERATION)
    return str(info.value)


# --- detection -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rows,mapping,shape",
    [
        (sharegpt_pairs(), None, RecordShape.SHAREGPT_PREFERENCE),
        (messages_pairs(), None, RecordShape.CONVERSATIONAL_PREFERENCE),
        (kto_chats(), None, RecordShape.KTO),
        (kto_chats(label="kto_tag"), {"kto_tag": "label"}, RecordShape.KTO),
        (kto_chats(label="desirable"), {"desirable": "label"}, RecordShape.KTO),
        ([{"messages": [msg("user", f"Q{i}"), msg("assistant", f"A{i}")], "label": i % 2 == 0} for i in range(12)], None, RecordShape.KTO),
        ([{"prompt": f"Q{i}", "completion": f"A{i}", "label": i % 3 == 0} for i in range(12)], None, RecordShape.KTO),
        ([sharegpt_tool_chat(f"City {i}") for i in range(12)], None, RecordShape.SHAREGPT_TOOLS),
        ([openai_tool_chat(f"City {i}") for i in range(12)], None, RecordShape.CONVERSATIONAL_TOOLS),
    ],
)
def test_each_shape_is_detected_from_a_file_and_its_rows_pass(tmp_path, rows, mapping, shape):
    loaded = load_validated_dataset(write_jsonl(tmp_path / "data.jsonl", rows), task=TEXT_GENERATION, column_mapping=mapping)
    assert loaded.shape is shape and loaded.report.ok and loaded.report.num_rows == len(rows)


def test_each_shape_says_what_it_is_and_which_strategies_train_it():
    assert shape_in_words(RecordShape.SHAREGPT_PREFERENCE) == "ShareGPT-style preference pairs (conversations, chosen, rejected)"
    assert "label" in shape_in_words(RecordShape.KTO) and "prompt + completion" in shape_in_words(RecordShape.KTO)
    for shape in (RecordShape.PREFERENCE, RecordShape.SHAREGPT_PREFERENCE, RecordShape.CONVERSATIONAL_PREFERENCE):
        assert strategies_for_shape(shape) == ["dpo", "kto", "orpo", "simpo", "rlhf"], shape
    for shape in (RecordShape.SHAREGPT_TOOLS, RecordShape.CONVERSATIONAL_TOOLS):
        assert strategies_for_shape(shape) == ["sft", "qlora"], shape
    assert strategies_for_shape(RecordShape.ALPACA) == ["sft", "qlora", "grpo"], "its output is GRPO's reference"
    assert strategies_for_shape(RecordShape.KTO) == ["kto"]
    assert trained_by_in_words(RecordShape.SHAREGPT_PREFERENCE) == "Trained by strategy 'dpo', 'kto', 'orpo', 'simpo' or 'rlhf'."
    assert trained_by_in_words(RecordShape.KTO) == "Trained by strategy 'kto'."


# --- preference pairs ------------------------------------------------------------------------------------


def test_messages_style_pairs_become_trls_conversational_and_plain_formats():
    import datasets

    rows = [
        {"messages": [msg("system", "Be brief."), msg("user", "Name a colour.")],
         "chosen": [msg("assistant", "Blue.")], "rejected": [msg("assistant", "Seven.")]},
    ]
    chat = preference_rows(datasets.Dataset.from_list(rows), RecordShape.CONVERSATIONAL_PREFERENCE, chat=True)
    assert chat.column_names == ["prompt", "chosen", "rejected"]
    assert chat[0] == {
        "prompt": [msg("system", "Be brief."), msg("user", "Name a colour.")],
        "chosen": [msg("assistant", "Blue.")], "rejected": [msg("assistant", "Seven.")],
    }
    plain = preference_rows(datasets.Dataset.from_list(rows), RecordShape.CONVERSATIONAL_PREFERENCE, chat=False)
    assert plain[0] == {
        "prompt": "### System:\nBe brief.\n\n### Instruction:\nName a colour.\n\n### Response:\n", "chosen": "Blue.", "rejected": "Seven.",
    }
    one_object = preference_rows(datasets.Dataset.from_list(messages_pairs(2)), RecordShape.CONVERSATIONAL_PREFERENCE, chat=True)
    assert one_object[1]["chosen"] == [msg("assistant", "Name 1.")] and one_object[1]["prompt"][-1] == msg("user", "Name 1?")


def test_sharegpt_style_pairs_become_messages_whatever_form_the_answers_take():
    import datasets

    objects = preference_rows(datasets.Dataset.from_list(sharegpt_pairs(2)), RecordShape.SHAREGPT_PREFERENCE, chat=True)
    assert objects[1] == {"prompt": [msg("user", "What is 1 plus 1?")], "chosen": [msg("assistant", "1 plus 1 is 2.")],
                          "rejected": [msg("assistant", "I do not know.")]}
    lists = [{"conversations": [human("Hi")], "chosen": [gpt("Hello!")], "rejected": [gpt("Go away.")]}]
    assert preference_rows(datasets.Dataset.from_list(lists), RecordShape.SHAREGPT_PREFERENCE, chat=True)[0]["chosen"] == [msg("assistant", "Hello!")]
    strings = [{"conversations": [human("Hi")], "chosen": "Hello!", "rejected": "Go away."}]
    assert preference_rows(datasets.Dataset.from_list(strings), RecordShape.SHAREGPT_PREFERENCE, chat=False)[0] == {
        "prompt": "### Instruction:\nHi\n\n### Response:\n", "chosen": "Hello!", "rejected": "Go away.",
    }
    with pytest.raises(DatasetValidationError, match="not preference pairs"):
        preference_rows(datasets.Dataset.from_list(kto_chats(2)), RecordShape.KTO, chat=True)


def test_dpo_trains_sharegpt_style_pairs_end_to_end(services, make_config, tmp_path):
    training, models, _ = services
    path = write_jsonl(tmp_path / "pairs.jsonl", sharegpt_pairs(12))
    job = training.submit(make_config(strategy="dpo", dataset=path, max_steps=3, logging_steps=1, eval_split=0.25,
                                      per_device_train_batch_size=2, save_steps=100))
    events = run_to_end(training, job["id"], timeout=300)
    job = training.get_job(job["id"])
    assert job["status"] == "completed", job
    assert any(e["type"] == "train" and "rewards/margins" in e for e in events), "DPO's own metrics were logged"
    model = models.get_model(job["model_id"])
    assert model["strategy"] == "dpo" and "reward_accuracy" in model["metrics"]


@pytest.mark.parametrize(
    "bad,words",
    [
        ({"conversations": [human("Q"), gpt("A")], "chosen": gpt("B"), "rejected": gpt("C")},
         ["row 3", "conversations", "prompt turns must end with a 'human' turn", "'chosen' and 'rejected' hold the answers"]),
        ({"conversations": [human("Q")], "chosen": human("B"), "rejected": gpt("C")}, ["row 3", "chosen", "not from 'gpt'"]),
        ({"conversations": [human("Q")], "chosen": gpt("B"), "rejected": gpt("B")}, ["row 3", "rejected", "same as 'chosen'"]),
        ({"conversations": [human("Q")], "chosen": gpt("B"), "rejected": {"from": "gpt", "value": ""}}, ["row 3", "rejected", "empty"]),
    ],
)
def test_a_bad_sharegpt_pair_names_its_row_and_the_reason(tmp_path, bad, words):
    rows = sharegpt_pairs()
    rows[2] = bad
    message = issues_of(write_jsonl(tmp_path / "pairs.jsonl", rows))
    for word in words:
        assert word in message, message


def test_a_messages_pair_must_end_its_prompt_with_the_user(tmp_path):
    rows = messages_pairs()
    rows[4]["messages"].append(msg("assistant", "Sure."))
    message = issues_of(write_jsonl(tmp_path / "pairs.jsonl", rows))
    assert "row 5" in message and "must end with a user message" in message, message


def test_supervised_fine_tuning_refuses_pairs_and_names_the_strategies_that_train_them(make_config, tmp_path):
    config = make_config(strategy="sft", dataset=write_jsonl(tmp_path / "pairs.jsonl", sharegpt_pairs()))
    with pytest.raises(DatasetValidationError) as info:
        validate_run(config)
    assert "records of shape 'sharegpt_preference' (ShareGPT-style preference pairs) cannot train strategy 'sft'" in info.value.message
    assert info.value.hint == "Pick strategy 'dpo', 'kto', 'orpo', 'simpo' or 'rlhf', which train ShareGPT-style preference pairs."


# --- KTO ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["sft", "dpo"])
def test_kto_data_is_refused_by_the_other_strategies_in_words(make_config, tmp_path, strategy):
    config = make_config(strategy=strategy, dataset=write_jsonl(tmp_path / "kto.jsonl", kto_chats()))
    with pytest.raises(DatasetValidationError) as info:
        validate_run(config)
    message = info.value.message
    assert f"records of shape 'kto' (a chat with a desirable/undesirable label) cannot train strategy '{strategy}'" in message
    why = "would learn the undesirable answers too" if strategy == "sft" else "needs a chosen and a rejected answer"
    assert why in message, message
    assert info.value.hint == "Pick strategy 'kto', which trains a chat with a desirable/undesirable label."


def test_every_strategy_but_kto_refuses_kto_data_and_names_kto():
    from modelforge_core.strategies.strategy_factory import StrategyFactory

    for name in StrategyFactory.names():
        refusal = shape_refusal(RecordShape.KTO, name, TEXT_GENERATION)
        if name == "kto":
            assert refusal is None
            continue
        assert refusal is not None and "records of shape 'kto'" in refusal.message, name
        assert refusal.hint == "Pick strategy 'kto', which trains a chat with a desirable/undesirable label.", name
    assert shape_refusal(RecordShape.SHAREGPT_PREFERENCE, "dpo") is None
    assert shape_refusal(RecordShape.KTO, None, TEXT_GENERATION) is None, "a preview before a strategy is picked"
    assert shape_refusal(RecordShape.SHAREGPT_PREFERENCE, None, TEXT_GENERATION) is None


def test_a_kto_label_must_be_true_or_false(tmp_path):
    rows = [{"messages": [msg("user", f"Q{i}"), msg("assistant", f"A{i}")], "label": i % 2 == 0} for i in range(12)]
    rows[3]["label"] = None
    message = issues_of(write_jsonl(tmp_path / "missing.jsonl", rows))
    assert "1 problem(s)" in message and "row 4, field 'label': is missing (null); expected true" in message, message
    numbers = [{**row, "label": index % 2} for index, row in enumerate(rows)]  # 0/1 are not read as false/true
    message = issues_of(write_jsonl(tmp_path / "numbers.jsonl", numbers))
    assert "12 problem(s)" in message and "row 2, field 'label': expected true or false" in message and "got 1" in message, message
    assert "Write each label as true" in message


# --- tool-calling chats ------------------------------------------------------------------------------------


def _with_turn(chat, index, turn):
    chat["conversations"][index] = turn
    return chat


def _sharegpt_bad(kind):
    chat = sharegpt_tool_chat()
    if kind == "not json":
        return _with_turn(chat, 1, {"from": "function_call", "value": "get_weather(Paris)"})
    if kind == "no name":
        return _with_turn(chat, 1, {"from": "function_call", "value": json.dumps({"arguments": {"city": "Paris"}})})
    if kind == "observation first":
        return {**chat, "conversations": [human("Weather?"), {"from": "observation", "value": "18 C"}, gpt("18 C.")]}
    if kind == "unknown tool":
        return _with_turn(chat, 1, {"from": "function_call", "value": json.dumps({"name": "book_flight", "arguments": {}})})
    if kind == "tools not a list":
        return {**chat, "tools": json.dumps({"name": "get_weather"})}
    if kind == "tool without name":
        return {**chat, "tools": json.dumps([{"description": "Weather"}])}
    if kind == "ends with a call":
        return {**chat, "conversations": chat["conversations"][:2]}
    return {**chat, "conversations": chat["conversations"][1:]}  # "call first"


@pytest.mark.parametrize(
    "kind,field,words",
    [
        ("not json", "conversations", ["turn 2", "'function_call' value must be JSON", "not JSON"]),
        ("no name", "conversations", ["turn 2", "no 'name'"]),
        ("observation first", "conversations", ["turn 2", "'observation' turn (a tool's result) must follow a 'function_call' turn"]),
        ("unknown tool", "conversations", ["turn 2 calls the tool 'book_flight'", "do not define", "'get_weather', 'get_time'"]),
        ("tools not a list", "tools", ["expected a JSON list of tool definitions", "got an object"]),
        ("tool without name", "tools", ["tool 1 has no 'name'"]),
        ("ends with a call", "conversations", ["last turn must be from 'gpt'", "not a tool call"]),
        ("call first", "conversations", ["needs a 'human' turn before the first answer or tool call"]),
    ],
)
def test_a_bad_sharegpt_tool_chat_names_its_row_and_the_reason(tmp_path, kind, field, words):
    rows = [sharegpt_tool_chat(f"City {i}") for i in range(12)]
    rows[6] = _sharegpt_bad(kind)
    message = issues_of(write_jsonl(tmp_path / "tools.jsonl", rows))
    assert f"row 7, field '{field}'" in message and "1 problem(s)" in message, message
    for word in words:
        assert word in message, message


def _openai_bad(kind):
    chat = openai_tool_chat()
    turns = chat["messages"]
    if kind == "tool first":
        return {**chat, "messages": [turns[1], msg("tool", "18 C", tool_call_id="call_1"), turns[4]]}
    if kind == "unknown tool":
        turns[2] = msg("assistant", None, tool_calls=[openai_call("book_flight")])
    elif kind == "arguments not json":
        turns[2] = msg("assistant", None, tool_calls=[openai_call("get_weather", "city=Paris")])
    elif kind == "ends with a call":
        return {**chat, "messages": turns[:3]}
    return chat


@pytest.mark.parametrize(
    "kind,words",
    [
        ("tool first", ["message 2", "'tool' message (a tool's result) must follow an assistant message with tool_calls"]),
        ("unknown tool", ["message 3 calls the tool 'book_flight'", "do not define", "'get_weather'"]),
        ("arguments not json", ["message 3", "the call to 'get_weather' has 'arguments' that are not JSON"]),
        ("ends with a call", ["last message must be from the assistant", "not a tool call"]),
    ],
)
def test_a_bad_openai_tool_chat_names_its_row_and_the_reason(tmp_path, kind, words):
    rows = [openai_tool_chat(f"City {i}") for i in range(12)]
    rows[2] = _openai_bad(kind)
    message = issues_of(write_jsonl(tmp_path / "tools.jsonl", rows))
    assert "row 3, field 'messages'" in message and "1 problem(s)" in message, message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("form", ["sharegpt", "openai"])
def test_tool_turns_without_a_tools_column_are_refused_naming_tool_use(tmp_path, form):
    chat = sharegpt_tool_chat() if form == "sharegpt" else openai_tool_chat()
    plain = [{"messages": [msg("user", f"Q{i}"), msg("assistant", f"A{i}")]} for i in range(12)]
    if form == "sharegpt":
        plain = [{"conversations": [human(f"Q{i}"), gpt(f"A{i}")]} for i in range(12)]
    rows = [*plain[:5], {key: value for key, value in chat.items() if key != "tools"}, *plain[5:]]
    with pytest.raises(DatasetValidationError) as info:
        load_validated_dataset(write_jsonl(tmp_path / "chats.jsonl", rows), task=TEXT_GENERATION)
    where = "turn 2 is a 'function_call' turn" if form == "sharegpt" else "message 3 has tool_calls"
    assert "row 6" in info.value.message and where in info.value.message, info.value.message
    assert "tool use needs a 'tools' column" in info.value.message, info.value.message
    assert "'tools' column" in info.value.hint and "definitions" in info.value.hint


def test_sft_accepts_tool_chats_and_dpo_refuses_them(make_config, tmp_path):
    path = write_jsonl(tmp_path / "tools.jsonl", [sharegpt_tool_chat(f"City {i}") for i in range(12)])
    assert shape_refusal(RecordShape.SHAREGPT_TOOLS, "sft", TEXT_GENERATION) is None
    with pytest.raises(DatasetValidationError) as info:
        validate_run(make_config(strategy="dpo", dataset=path))
    assert "records of shape 'sharegpt_tools'" in info.value.message and "cannot train strategy 'dpo'" in info.value.message
    assert info.value.hint == "Pick strategy 'sft' or 'qlora', which train ShareGPT-style tool-calling chats."
