"""One validated SFT row of any shape as a chat: messages (tool calls included) and the tools it may call.

Training, the dataset check and the playground read rows through ``row_conversation``, so a chat's
turns mean the same everywhere: ShareGPT turns become roles (``function_call`` an assistant turn with
``tool_calls``, ``observation`` a ``tool`` turn), OpenAI-style messages keep their tool calls, and a
``tools`` column becomes a list of OpenAI-style function definitions for the chat template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .formats import REQUIRED_FIELDS, RecordShape, resolve_fields
from .formatting import SHAREGPT_ROLES, SUMMARIZE_INSTRUCTION, build_prompt

SHAREGPT_TOOL_ROLES = {"function_call": "assistant", "observation": "tool"}


@dataclass
class Conversation:
    """A row as the model sees it: ``messages`` ({role, content} and, for calls, ``tool_calls``) and ``tools``
    (None when the row defines none); plain-text rows have ``text`` instead of messages. ``plain_prompt`` is a
    one-turn row's prompt as written for a model without a chat template (``build_prompt(..., chat=False)``)."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    text: str | None = None
    plain_prompt: str | None = None

    @property
    def assistant_turns(self) -> list[int]:
        """The indices of the assistant messages (the replies a model can learn)."""
        return [index for index, message in enumerate(self.messages) if message["role"] == "assistant"]

    @property
    def uses_tools(self) -> bool:
        return bool(self.tools) or any(m.get("tool_calls") or m["role"] == "tool" for m in self.messages)


def chat_field(shape: RecordShape) -> str | None:
    """``conversations`` or ``messages`` when the shape holds a whole chat in that column, else None."""
    fields = REQUIRED_FIELDS[RecordShape(shape)]
    return next((name for name in ("conversations", "messages") if name in fields), None)


def row_conversation(row: dict[str, Any], shape: RecordShape, columns: dict[str, str | None] | None = None) -> Conversation:
    """The chat a validated row of an SFT shape stands for (single-turn shapes: one user and one assistant turn)."""
    shape = RecordShape(shape)
    columns = columns if columns is not None else resolve_fields(shape, list(row))
    if shape is RecordShape.TEXT:
        return Conversation([], text=row["text"])
    field = chat_field(shape)
    if field == "conversations":
        return Conversation([_sharegpt_message(turn) for turn in row["conversations"]], parse_tools(row.get("tools")))
    if field == "messages":
        return Conversation([_clean_message(m) for m in row["messages"]], parse_tools(row.get("tools")))
    if shape is RecordShape.MODELFORGE:
        instruction, extra = row["input"], None
    elif shape is RecordShape.ALPACA:
        instruction, extra = row["instruction"], row.get("input")
    elif shape is RecordShape.SUMMARIZATION:
        instruction, extra = SUMMARIZE_INSTRUCTION, row[columns["document"]]
    elif shape is RecordShape.PROMPT_COMPLETION:
        prompt, answer = row["prompt"], row["completion"]
        answer_turns = [{"role": "assistant", "content": answer}] if isinstance(answer, str) else [_clean_message(m) for m in answer]
        return Conversation([*_as_messages(prompt, "user"), *answer_turns], plain_prompt=prompt if isinstance(prompt, str) else None)
    else:
        raise ValueError(f"{shape.value} rows are not supervised fine-tuning rows")
    answer = row[columns["summary"]] if shape is RecordShape.SUMMARIZATION else row["output"]
    return Conversation(
        [*build_prompt(instruction, extra, chat=True), {"role": "assistant", "content": answer}],
        plain_prompt=build_prompt(instruction, extra, chat=False),
    )


def _as_messages(value: str | list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    return [{"role": role, "content": value}] if isinstance(value, str) else [_clean_message(m) for m in value]


def _clean_message(message: dict[str, Any]) -> dict[str, Any]:
    """role and content (None -> ""), tool calls in OpenAI's form with parsed arguments; Arrow's None keys dropped."""
    cleaned: dict[str, Any] = {"role": message["role"], "content": message.get("content") or ""}
    calls = message.get("tool_calls")
    if calls:
        cleaned["tool_calls"] = [_tool_call(call.get("function") or call) for call in calls]
    for key in ("name", "tool_call_id"):
        if message.get(key) is not None and message["role"] == "tool":
            cleaned[key] = message[key]
    return cleaned


def _sharegpt_message(turn: dict[str, Any]) -> dict[str, Any]:
    kind, value = turn["from"], turn["value"]
    if kind == "function_call":
        calls = json.loads(value)
        calls = calls if isinstance(calls, list) else [calls]
        return {"role": "assistant", "content": "", "tool_calls": [_tool_call(call) for call in calls]}
    return {"role": SHAREGPT_TOOL_ROLES.get(kind) or SHAREGPT_ROLES.get(kind, kind), "content": value}


def _tool_call(function: dict[str, Any]) -> dict[str, Any]:
    """``{"type": "function", "function": {"name", "arguments"}}`` with the arguments as an object (templates tojson them)."""
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            pass  # kept as written: the template shows the text
    return {"type": "function", "function": {"name": function["name"], "arguments": arguments if arguments is not None else {}}}


def parse_tools(value: Any) -> list[dict[str, Any]] | None:
    """A ``tools`` cell (a JSON string or a list) as OpenAI-style function definitions; None when empty."""
    if value is None:
        return None
    tools = json.loads(value) if isinstance(value, str) else value
    if not tools:
        return None
    tools = [{key: item for key, item in tool.items() if item is not None} for tool in (tools if isinstance(tools, list) else [tools])]
    return [tool if tool.get("type") == "function" and isinstance(tool.get("function"), dict) else {"type": "function", "function": tool}
            for tool in tools]


def tool_names(tools: list[dict[str, Any]] | None) -> list[str]:
    """The names of the functions in ``parse_tools``' definitions."""
    return [tool["function"].get("name", "") for tool in tools or []]
