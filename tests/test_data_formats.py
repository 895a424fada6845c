"""Shape detection, column mapping, prompts, and rows in TRL's SFT formats."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets
import pytest

from modelforge_core.data.formats import (
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    RecordShape,
    apply_column_mapping,
    detect_shape,
)
from modelforge_core.data.formatting import (
    PLAIN_PROMPT_TEMPLATE,
    SUMMARIZE_INSTRUCTION,
    build_prompt,
    to_training_records,
)
from modelforge_core.exceptions import DatasetValidationError
from modelforge_core.schemas.tasks import TASK_TABLE

USER, ASSISTANT, SYSTEM = "user", "assistant", "system"


def msg(role, content):
    return {"role": role, "content": content}


# --- detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "columns,shape",
    [
        (["input", "output"], RecordShape.MODELFORGE),
        (["instruction", "input", "output"], RecordShape.ALPACA),
        (["instruction", "output"], RecordShape.ALPACA),
        (["prompt", "completion"], RecordShape.PROMPT_COMPLETION),
        (["messages"], RecordShape.CONVERSATIONAL),
        (["conversations", "id"], RecordShape.SHAREGPT),
        (["text"], RecordShape.TEXT),
        (["prompt", "chosen", "rejected"], RecordShape.PREFERENCE),
        (["document", "summary"], RecordShape.SUMMARIZATION),
        (["article", "summary", "id"], RecordShape.SUMMARIZATION),
        (["text", "summary"], RecordShape.SUMMARIZATION),
        (["context", "question", "answers", "id", "title"], RecordShape.EXTRACTIVE_QA),
        (["context", "question", "answer"], RecordShape.EXTRACTIVE_QA),
    ],
)
def test_detect_shape(columns, shape):
    assert detect_shape(columns) is shape


@pytest.mark.parametrize(
    "columns,shape",
    [
        (["prompt", "chosen", "rejected", "completion"], RecordShape.PREFERENCE),
        (["context", "question", "answers", "text", "summary"], RecordShape.EXTRACTIVE_QA),
        (["messages", "text"], RecordShape.CONVERSATIONAL),
        (["messages", "conversations"], RecordShape.CONVERSATIONAL),
        (["prompt", "completion", "instruction", "output"], RecordShape.PROMPT_COMPLETION),
        (["instruction", "input", "output", "text"], RecordShape.ALPACA),
        (["input", "output", "text"], RecordShape.MODELFORGE),
    ],
)
def test_detection_priority(columns, shape):
    assert detect_shape(columns) is shape


@pytest.mark.parametrize(
    "columns,shape",
    [
        (["prompt", "chosen", "rejected", "messages", "score_chosen"], RecordShape.PREFERENCE),  # UltraFeedback's layout
        (["messages", "chosen", "rejected"], RecordShape.CONVERSATIONAL_PREFERENCE),
        (["conversations", "chosen", "rejected", "tools"], RecordShape.SHAREGPT_PREFERENCE),
        (["messages", "label", "tools"], RecordShape.KTO),
        (["conversations", "kto_tag"], RecordShape.KTO),
        (["prompt", "completion", "label"], RecordShape.KTO),
        (["prompt", "label", "text"], RecordShape.TEXT),  # KTO's prompt is a chat only beside a completion
        (["messages", "tools"], RecordShape.CONVERSATIONAL_TOOLS),
        (["conversations", "tools", "system"], RecordShape.SHAREGPT_TOOLS),
        (["messages", "conversations", "tools"], RecordShape.CONVERSATIONAL_TOOLS),
    ],
)
def test_pairs_labels_and_tools_are_detected_before_the_chats_they_contain(columns, shape):
    assert detect_shape(columns) is shape


def test_unknown_columns_name_columns_and_shapes():
    with pytest.raises(DatasetValidationError) as info:
        detect_shape(["question", "reply"])
    assert "question, reply" in info.value.message
    assert all(shape.value in info.value.message for shape in RecordShape)
    assert "column_mapping" in info.value.hint


def test_field_tables_cover_every_shape():
    assert set(REQUIRED_FIELDS) == set(RecordShape) == set(OPTIONAL_FIELDS)
    assert set(TASK_TABLE) == {"text-generation", "summarization", "extractive-question-answering"}
    assert RecordShape("alpaca") is RecordShape.ALPACA and RecordShape.ALPACA == "alpaca"


# --- column mapping ------------------------------------------------------------------------------


@pytest.fixture
def qa_dataset():
    return datasets.Dataset.from_dict({"question": ["Q1", "Q2"], "reply": ["A1", "A2"], "id": [1, 2]})


def test_column_mapping_renames(qa_dataset):
    mapped = apply_column_mapping(qa_dataset, {"question": "input", "reply": "output"})
    assert mapped.column_names == ["input", "output", "id"]
    assert detect_shape(mapped.column_names) is RecordShape.MODELFORGE
    assert mapped[1]["output"] == "A2"


def test_column_mapping_none_or_empty_is_identity(qa_dataset):
    assert apply_column_mapping(qa_dataset, None) is qa_dataset
    assert apply_column_mapping(qa_dataset, {}) is qa_dataset
    assert apply_column_mapping(qa_dataset, {"id": "id"}).column_names == qa_dataset.column_names


def test_column_mapping_unknown_source_lists_columns(qa_dataset):
    with pytest.raises(DatasetValidationError) as info:
        apply_column_mapping(qa_dataset, {"Question": "input"})
    assert "'Question'" in info.value.message and "question, reply, id" in info.value.message


def test_column_mapping_clash(qa_dataset):
    with pytest.raises(DatasetValidationError) as info:
        apply_column_mapping(qa_dataset, {"question": "reply"})
    assert "duplicate" in info.value.message and "'reply'" in info.value.message


def test_column_mapping_swap_is_allowed(qa_dataset):
    swapped = apply_column_mapping(qa_dataset, {"question": "reply", "reply": "question"})
    assert swapped[0]["reply"] == "Q1" and swapped[0]["question"] == "A1"


# --- prompts -------------------------------------------------------------------------------------


def test_build_prompt_plain():
    assert build_prompt("Say hi.", chat=False) == "### Instruction:\nSay hi.\n\n### Response:\n"
    assert build_prompt("Say hi.", "", chat=False) == PLAIN_PROMPT_TEMPLATE.format(instruction="Say hi.")
    with_input = build_prompt("Translate.", "Bonjour", chat=False)
    assert with_input == "### Instruction:\nTranslate.\n\n### Input:\nBonjour\n\n### Response:\n"


def test_build_prompt_chat():
    assert build_prompt("Say hi.", chat=True) == [msg(USER, "Say hi.")]
    assert build_prompt("Translate.", "Bonjour", chat=True) == [msg(USER, "Translate.\n\nBonjour")]
    assert build_prompt("Say hi.", "   ", chat=True) == [msg(USER, "Say hi.")]


# --- training records ----------------------------------------------------------------------------


def records(rows, shape, task="text-generation", **kwargs):
    return to_training_records(datasets.Dataset.from_list(rows), shape, task, **kwargs)


def test_modelforge_plain_and_chat():
    rows = [{"input": "What is 2+2?", "output": "4", "extra": 1}]
    plain = records(rows, RecordShape.MODELFORGE, chat=False)
    assert plain.column_names == ["prompt", "completion"]
    assert plain[0] == {"prompt": build_prompt("What is 2+2?", chat=False), "completion": "4"}
    chat = records(rows, RecordShape.MODELFORGE, chat=True)
    assert chat[0] == {"prompt": [msg(USER, "What is 2+2?")], "completion": [msg(ASSISTANT, "4")]}


def test_alpaca_with_input_and_system_prompt():
    rows = [{"instruction": "Translate.", "input": "Bonjour", "output": "Hello"}, {"instruction": "Hi?", "input": None, "output": "Hi!"}]
    plain = records(rows, RecordShape.ALPACA, chat=False, system_prompt="Be brief.")
    assert plain[0]["prompt"] == build_prompt("Translate.", "Bonjour", chat=False)
    assert plain[1]["prompt"] == build_prompt("Hi?", chat=False)
    chat = records(rows, RecordShape.ALPACA, chat=True, system_prompt="Be brief.")
    assert chat[0]["prompt"] == [msg(SYSTEM, "Be brief."), msg(USER, "Translate.\n\nBonjour")]
    assert chat[1]["completion"] == [msg(ASSISTANT, "Hi!")]


def test_prompt_completion_strings_kept_or_wrapped():
    rows = [{"prompt": "The sky is", "completion": " blue."}]
    assert records(rows, RecordShape.PROMPT_COMPLETION, chat=False)[0] == {"prompt": "The sky is", "completion": " blue."}
    chat = records(rows, RecordShape.PROMPT_COMPLETION, chat=True)[0]
    assert chat == {"prompt": [msg(USER, "The sky is")], "completion": [msg(ASSISTANT, " blue.")]}


CONVERSATION = [
    msg(SYSTEM, "You are terse."),
    msg(USER, "Hi"),
    msg(ASSISTANT, "Hello."),
    msg(USER, "Capital of France?"),
    msg(ASSISTANT, "Paris."),
]


def test_conversational_chat_splits_at_last_assistant():
    out = records([{"messages": CONVERSATION}], RecordShape.CONVERSATIONAL, chat=True, system_prompt="ignored")
    assert out[0]["prompt"] == CONVERSATION[:4]  # the row's own system message is kept, not doubled
    assert out[0]["completion"] == [msg(ASSISTANT, "Paris.")]


def test_conversational_plain_uses_role_labels():
    out = records([{"messages": CONVERSATION}], RecordShape.CONVERSATIONAL, chat=False)
    assert out[0]["prompt"] == (
        "### System:\nYou are terse.\n\n### Instruction:\nHi\n\n### Response:\nHello.\n\n"
        "### Instruction:\nCapital of France?\n\n### Response:\n"
    )
    assert out[0]["completion"] == "Paris."
    single = records([{"messages": [msg(USER, "Hi"), msg(ASSISTANT, "Hello.")]}], RecordShape.CONVERSATIONAL, chat=False)
    assert single[0]["prompt"] == build_prompt("Hi", chat=False)


def test_conversational_system_prompt_added_when_missing():
    out = records([{"messages": CONVERSATION[1:3]}], RecordShape.CONVERSATIONAL, chat=True, system_prompt="Be kind.")
    assert out[0]["prompt"] == [msg(SYSTEM, "Be kind."), msg(USER, "Hi")]


def test_conversational_without_assistant_names_row():
    rows = [{"messages": CONVERSATION}, {"messages": [msg(USER, "Hi")]}]
    with pytest.raises(DatasetValidationError) as info:
        records(rows, RecordShape.CONVERSATIONAL, chat=True)
    assert "Row 2" in info.value.message and "assistant" in info.value.message


def test_sharegpt_roles_are_mapped():
    turns = [{"from": "system", "value": "Sys"}, {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello."}]
    out = records([{"conversations": turns}], RecordShape.SHAREGPT, chat=True)
    assert out[0] == {"prompt": [msg(SYSTEM, "Sys"), msg(USER, "Hi")], "completion": [msg(ASSISTANT, "Hello.")]}


def test_text_keeps_only_text():
    out = records([{"text": "Once upon a time.", "source": "web"}], RecordShape.TEXT, chat=True)
    assert out.column_names == ["text"] and out[0]["text"] == "Once upon a time."


def test_summarization_builds_instruction_prompt():
    rows = [{"article": "Long story about rain.", "summary": "It rained.", "id": "x"}]
    plain = records(rows, RecordShape.SUMMARIZATION, task="summarization", chat=False)
    assert plain[0] == {"prompt": build_prompt(SUMMARIZE_INSTRUCTION, "Long story about rain.", chat=False), "completion": "It rained."}
    chat = records(rows, RecordShape.SUMMARIZATION, task="summarization", chat=True)
    assert chat[0]["prompt"] == [msg(USER, "Summarize the following text.\n\nLong story about rain.")]


def test_preference_is_not_sft_data():
    with pytest.raises(DatasetValidationError) as info:
        records([{"prompt": "p", "chosen": "a", "rejected": "b"}], RecordShape.PREFERENCE, chat=True)
    assert "dpo" in info.value.hint


def test_extractive_qa_is_not_sft_data():
    rows = [{"context": "Paris is in France.", "question": "Where is Paris?", "answer": "France"}]
    with pytest.raises(DatasetValidationError) as info:
        records(rows, RecordShape.EXTRACTIVE_QA, chat=False)
    assert "extractive-question-answering" in info.value.hint


def test_shape_the_task_does_not_accept():
    with pytest.raises(DatasetValidationError) as info:
        records([{"text": "t"}], RecordShape.TEXT, task="summarization", chat=False)
    assert "summarization" in info.value.message and "accepts" in info.value.message
