"""Turn rows of any SFT-ready shape into TRL's prompt/completion or text format.

``build_prompt`` is the single place that decides what a prompt looks like, so that training,
evaluation and the playground format a question the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..exceptions import DatasetValidationError
from ..schemas.tasks import PREFERENCE_SHAPES, TASK_TABLE, TASKS
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
    """Rows as prompt/completion pairs (message lists when ``chat``, else strings) or text: the prompt is every turn
    before the last assistant reply, the completion that reply (evaluation and seq2seq read rows this way).

    ``system_prompt`` is prepended as a system message when ``chat`` and the row has none.
    Raises DatasetValidationError for preference, KTO and extractive-QA data (not SFT data), for a
    shape the task does not accept, and for a conversation without an assistant message.
    """
    from .conversation import chat_field, row_conversation

    shape = RecordShape(shape)
    _check_sft_shape(shape, task)
    if shape is RecordShape.TEXT:
        return dataset.select_columns(["text"])
    columns = resolve_fields(shape, dataset.column_names)
    field = chat_field(shape) or "completion"

    def convert(row: dict[str, Any], index: int) -> dict[str, Any]:
        conversation = row_conversation(row, shape, columns)
        prompt, completion = _split_conversation(conversation.messages, index, field)
        if chat:
            if system_prompt and prompt[0]["role"] != "system":
                prompt = [{"role": "system", "content": system_prompt}, *prompt]
            return {"prompt": prompt, "completion": completion}
        plain = conversation.plain_prompt if conversation.plain_prompt is not None else render_plain(prompt)
        return {"prompt": plain, "completion": completion[0]["content"]}

    return dataset.map(convert, with_indices=True, remove_columns=dataset.column_names, desc="Formatting rows")


def _check_sft_shape(shape: RecordShape, task: str) -> None:
    from .shape_strategies import shape_refusal

    refusal = shape_refusal(shape, "sft", task) if shape in PREFERENCE_SHAPES else None
    if refusal is not None:
        raise DatasetValidationError(refusal.message[0].upper() + refusal.message[1:], refusal.hint)
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
