"""Turn rows of any SFT-ready shape into TRL's prompt/completion or text format.

``build_prompt`` is the single place that decides what a prompt looks like, so that training,
evaluation and the playground format a question the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..exceptions import DatasetValidationError
from ..schemas.tasks import TASK_TABLE, TASKS
from .formats import RecordShape, resolve_fields

if TYPE_CHECKING:
    import datasets

PLAIN_PROMPT_TEMPLATE = "### Instruction:\n{instruction}\n\n### Response:\n"
PLAIN_PROMPT_TEMPLATE_WITH_INPUT = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
SUMMARIZE_INSTRUCTION = "Summarize the following text."
PLAIN_ROLE_LABELS = {"system": "### System:", "user": "### Instruction:", "assistant": "### Response:"}
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}

Messages = list[dict[str, str]]


def build_prompt(instruction: str, input_text: str | None = None, *, chat: bool) -> str | Messages:
    """The prompt exactly as training formats it: a message list [{"role":"user","content":...}] when chat else a plain string."""
    has_input = bool(input_text and input_text.strip())
    if chat:
        content = f"{instruction}\n\n{input_text}" if has_input else instruction
        return [{"role": "user", "content": content}]
    if has_input:
        return PLAIN_PROMPT_TEMPLATE_WITH_INPUT.format(instruction=instruction, input=input_text)
    return PLAIN_PROMPT_TEMPLATE.format(instruction=instruction)


def render_plain(messages: Messages) -> str:
    """Messages as plain text with role labels, ending with the response label.

    A single user message renders exactly as ``build_prompt(..., chat=False)``.
    """
    parts = [f"{PLAIN_ROLE_LABELS.get(m['role'], m['role'])}\n{m['content']}\n\n" for m in messages]
    return "".join(parts) + PLAIN_ROLE_LABELS["assistant"] + "\n"


def to_training_records(
    dataset: datasets.Dataset,
    shape: RecordShape,
    task: str,
    *,
    chat: bool,
    system_prompt: str | None = None,
) -> datasets.Dataset:
    """Rows in TRL's SFT formats: prompt/completion (strings when not chat, message lists when chat) or text.

    ``system_prompt`` is prepended as a system message when ``chat`` and the row has none.
    Raises DatasetValidationError for preference and extractive-QA data (not SFT data), for a
    shape the task does not accept, and for a conversation without an assistant message.
    """
    shape = RecordShape(shape)
    _check_sft_shape(shape, task)
    if shape is RecordShape.TEXT:
        return dataset.select_columns(["text"])
    columns = resolve_fields(shape, dataset.column_names)

    def convert(row: dict[str, Any], index: int) -> dict[str, Any]:
        prompt, completion = _prompt_and_completion(row, shape, columns, index, chat)
        if chat:
            if isinstance(prompt, str):
                prompt = [{"role": "user", "content": prompt}]
            if isinstance(completion, str):
                completion = [{"role": "assistant", "content": completion}]
            if system_prompt and prompt[0]["role"] != "system":
                prompt = [{"role": "system", "content": system_prompt}, *prompt]
        else:
            prompt = prompt if isinstance(prompt, str) else render_plain(prompt)
            completion = completion if isinstance(completion, str) else "\n\n".join(m["content"] for m in completion)
        return {"prompt": prompt, "completion": completion}

    return dataset.map(convert, with_indices=True, remove_columns=dataset.column_names, desc="Formatting rows")


def _check_sft_shape(shape: RecordShape, task: str) -> None:
    if shape is RecordShape.PREFERENCE:
        raise DatasetValidationError(
            "Preference data (prompt, chosen, rejected) cannot be used for supervised fine-tuning.",
            "Train it with the 'dpo' strategy, or give a dataset of instructions and answers for SFT.",
        )
    if shape is RecordShape.EXTRACTIVE_QA:
        raise DatasetValidationError(
            "Extractive question answering data (context, question, answers) is not SFT data.",
            "Use the task 'extractive-question-answering', which trains a QA model on answer spans.",
        )
    facts = TASK_TABLE.get(task)
    if facts is None:
        raise DatasetValidationError(f"Unknown task '{task}'.", f"Use one of: {', '.join(TASKS)}.")
    if shape not in facts.shapes:
        raise DatasetValidationError(
            f"Task '{task}' cannot train on {shape.value} data; it accepts: "
            f"{', '.join(s.value for s in facts.shapes)}.",
            "Pick the task that fits the data, or rename the columns with column_mapping.",
        )


def _prompt_and_completion(
    row: dict[str, Any], shape: RecordShape, columns: dict[str, str | None], index: int, chat: bool
) -> tuple[str | Messages, str | Messages]:
    if shape is RecordShape.MODELFORGE:
        return build_prompt(row["input"], chat=chat), row["output"]
    if shape is RecordShape.ALPACA:
        return build_prompt(row["instruction"], row.get("input"), chat=chat), row["output"]
    if shape is RecordShape.SUMMARIZATION:
        return build_prompt(SUMMARIZE_INSTRUCTION, row[columns["document"]], chat=chat), row["summary"]
    if shape is RecordShape.PROMPT_COMPLETION:
        return _clean(row["prompt"]), _clean(row["completion"])
    if shape is RecordShape.SHAREGPT:
        turns = [{"role": SHAREGPT_ROLES.get(t["from"], t["from"]), "content": t["value"]} for t in row["conversations"]]
        return _split_conversation(turns, index, "conversations")
    return _split_conversation(_clean(row["messages"]), index, "messages")


def _clean(value: str | list[dict[str, Any]]) -> str | Messages:
    """Strings as they are; message lists reduced to role and content (Arrow adds None keys)."""
    if isinstance(value, str):
        return value
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _split_conversation(messages: Messages, index: int, field: str) -> tuple[Messages, Messages]:
    """Prompt = every message before the last assistant message; completion = that message."""
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        raise DatasetValidationError(
            f"Row {index + 1}, field '{field}': the conversation has no assistant message to learn from.",
            "End every conversation with an assistant message.",
        )
    if not any(m["role"] == "user" for m in messages[:last]):
        raise DatasetValidationError(
            f"Row {index + 1}, field '{field}': no user message comes before the last assistant message.",
            "Start every conversation with a user message (after an optional system message).",
        )
    return messages[:last], [messages[last]]
