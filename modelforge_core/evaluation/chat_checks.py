"""Row checks of chats: ShareGPT turns or role/content messages, tool calls and tool results, preference pairs'
prompts and answers, KTO's chats and labels. Each check takes (value, row) and returns a problem in words
(or a (problem, hint) pair), or None; ``SHAPE_CHECKS`` gives the checks of each chat shape's columns.

A tool's result must follow a call, a call must name a tool the row's ``tools`` define, and tool turns in a
chat without ``tools`` are refused as such.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..data.formats import RecordShape
from ..data.formatting import SHAREGPT_ROLES
from ..data.loading import type_in_words

ROLES = ("system", "user", "assistant")
SHAREGPT_FROM = ("human", "gpt", "system", "user", "assistant")


def text_problem(value: Any) -> str | None:
    """What is wrong with a value that must be a non-empty string, in words; None when it is one."""
    if value is None:
        return "is missing (null); expected a non-empty string"
    if not isinstance(value, str):
        return f"expected a string, got {type_in_words(value)}"
    if not value.strip():
        return "is empty; expected a non-empty string"
    return None


_TOOLS_HINT = (
    "Give tool-calling chats a 'tools' column beside the chat, holding the definitions of the tools it calls: a JSON "
    'list such as [{"name": "get_weather", "description": "...", "parameters": {"type": "object", ...}}].'
)
_NO_TOOLS_HINT = "Remove the tool turns from these rows: tool use is trained from tool-calling chats (a chat and a 'tools' column)."
_CALLS_HINT = "Define every tool a row calls in that row's 'tools', or correct the tool's name in the call."
_LABEL_HINT = (
    "Write each label as true (the answer is desirable) or false (it is not); numbers such as 0/1 are not read as "
    "labels, so that a class column is not taken for one. If the column is not a KTO label, rename it with "
    "column_mapping (e.g. {'label': 'category'})."
)
Problem = str | tuple[str, str]  # a problem in words, or (problem, hint) where the row hint would mislead
Check = Callable[[Any, dict[str, Any]], Problem | None]
# How a chat may hold tool turns: a tool-calling shape; a chat shape that needs a 'tools' column for them; not at all.
TOOLS_ALLOWED, TOOLS_NEED_COLUMN, TOOLS_REFUSED = "allowed", "need column", "refused"


@dataclass(frozen=True)
class _Form:
    """How problems name the parts of a chat: ShareGPT turns or role/content messages."""

    column: str
    unit: str
    item: str
    user: str
    answer: str
    tool: str
    call: str


_SHAREGPT = _Form(
    "conversations", "turn", "{from, value}", "a 'human' turn", "'gpt'", "an 'observation' turn (a tool's result)",
    "a 'function_call' turn",
)
_MESSAGES = _Form(
    "messages", "message", "{role, content}", "a user message", "the assistant",
    "a 'tool' message (a tool's result)", "an assistant message with tool_calls",
)
_SHAREGPT_TOOL_ROLES = {"function_call": "assistant", "observation": "tool"}


class _Turn(NamedTuple):
    number: int  # 1-based
    role: str  # system, user, assistant or tool
    calls: list[dict[str, Any]] | None = None  # the {name, arguments} calls an assistant turn makes


def _text_or_messages_check(value: Any, row: dict[str, Any]) -> Problem | None:
    if isinstance(value, list):
        return _chat_problem(value, _MESSAGES, TOOLS_REFUSED, whole_chat=False)
    problem = text_problem(value)
    return problem.replace("string", "string or a list of messages") if problem else None


def _chat_check(form: _Form, tools: str) -> Check:
    """A whole chat: its turns, then a user turn and a final answer."""
    return lambda value, row: _chat_problem(value, form, tools)


def _rejected_check(value: Any, row: dict[str, Any]) -> Problem | None:
    problem = _text_or_messages_check(value, row)
    return problem or _same_answers(value, row)


def _same_answers(value: Any, row: dict[str, Any]) -> str | None:
    if value == row.get("chosen"):
        return "is the same as 'chosen'; a preference pair needs two different answers"
    return None


def _prompt_turns_check(form: _Form) -> Check:
    """The prompt of a messages- or ShareGPT-style pair: turns that end with the user's, which the answers reply to."""

    def check(value: Any, row: dict[str, Any]) -> Problem | None:
        turns = _turns(value, form, TOOLS_REFUSED)
        if not isinstance(turns, list):
            return turns
        if turns[-1].role != "user":
            return (
                f"the prompt {form.unit}s must end with {form.user}, the one the answers reply to "
                f"('chosen' and 'rejected' hold the answers)"
            )
        return None

    return check


def _pair_answer_check(form: _Form, rejected: bool = False) -> Check:
    """'chosen' or 'rejected' of a messages- or ShareGPT-style pair: a string, one answer turn, or a list of them."""
    example = '{"from": "gpt", "value": ...}' if form is _SHAREGPT else '{"role": "assistant", "content": ...}'

    def check(value: Any, row: dict[str, Any]) -> Problem | None:
        if isinstance(value, str):
            return text_problem(value) or (_same_answers(value, row) if rejected else None)
        items = [value] if isinstance(value, dict) else value
        if not isinstance(items, list) or not items:
            got = "an empty list" if value == [] else type_in_words(value)
            return f"expected the answer as a string, one {form.unit} {example} or a list of them, got {got}"
        turns = _turns(items, form, TOOLS_REFUSED)
        if not isinstance(turns, list):
            return turns
        other = next((turn for turn in turns if turn.role != "assistant"), None)
        if other:
            return (
                f"{form.unit} {other.number} is not from {form.answer}: 'chosen' and 'rejected' hold only the answer "
                f"(the prompt goes in '{form.column}')"
            )
        return _same_answers(value, row) if rejected else None

    return check


def kto_checks(resolved: dict[str, str | None]) -> dict[str, Check]:
    """The chat (messages, conversations, or prompt and completion) and the true/false label of KTO rows."""
    checks: dict[str, Check] = {resolved["label"]: _label_check} if resolved["label"] else {}
    if resolved["chat"] == "messages":
        checks["messages"] = _chat_check(_MESSAGES, TOOLS_REFUSED)
    elif resolved["chat"] == "conversations":
        checks["conversations"] = _chat_check(_SHAREGPT, TOOLS_REFUSED)
    elif resolved["chat"] == "prompt":
        checks.update(prompt=_text_or_messages_check, completion=_text_or_messages_check)
    return checks


def _label_check(value: Any, row: dict[str, Any]) -> Problem | None:
    if isinstance(value, bool):
        return None
    if value is None:
        return "is missing (null); expected true (the answer is desirable) or false (it is not)", _LABEL_HINT
    return f"expected true or false (true: the answer is desirable), got {value!r} ({type_in_words(value)})", _LABEL_HINT


def _tools_check(value: Any, row: dict[str, Any]) -> Problem | None:
    names = _tool_names(value)
    return (names, _TOOLS_HINT) if isinstance(names, str) else None


def _tool_chat_check(form: _Form) -> Check:
    """A tool-calling chat: its turns and their order, and every call naming a tool the row's 'tools' define."""

    def check(value: Any, row: dict[str, Any]) -> Problem | None:
        turns = _turns(value, form, TOOLS_ALLOWED)
        if not isinstance(turns, list):
            return turns
        problem = _order_problem(turns, form, tools=True)
        defined = _tool_names(row.get("tools"))
        if problem or isinstance(defined, str):  # a bad 'tools' cell is the tools check's to say
            return problem
        for turn in turns:
            for call in turn.calls or ():
                if call["name"] not in defined:
                    known = f"it defines {', '.join(map(repr, defined))}" if defined else "it defines none"
                    return (
                        f"{form.unit} {turn.number} calls the tool '{call['name']}', which this row's 'tools' do not "
                        f"define ({known})",
                        _CALLS_HINT,
                    )
        return None

    return check


def _chat_problem(value: Any, form: _Form, tools: str, *, whole_chat: bool = True) -> Problem | None:
    turns = _turns(value, form, tools)
    if not isinstance(turns, list):
        return turns
    return _order_problem(turns, form, tools=False) if whole_chat else None


def _order_problem(turns: list[_Turn], form: _Form, *, tools: bool) -> str | None:
    """Tool results follow calls; a user turn comes first (before the first answer, in a tool chat); an answer ends."""
    for previous, turn in zip([None, *turns], turns):
        if turn.role == "tool" and not (previous and (previous.role == "tool" or previous.calls)):
            return f"{form.unit} {turn.number}: {form.tool} must follow {form.call}"
    if turns[-1].role != "assistant" or turns[-1].calls:
        call = ", not a tool call" if turns[-1].calls else ""
        return f"the last {form.unit} must be from {form.answer} (the answer the model learns){call}"
    first_reply = next(index for index, turn in enumerate(turns) if turn.role == "assistant")
    if not any(turn.role == "user" for turn in (turns[:first_reply] if tools else turns)):
        return f"needs {form.user} before the first answer or tool call" if tools else f"needs {form.user} before the answer"
    return None


def _turns(value: Any, form: _Form, tools: str) -> list[_Turn] | Problem:
    """The chat's turns, or the first problem of its layout (``tools``: how tool turns are taken)."""
    if not isinstance(value, list) or not value:
        items = f"{form.unit}s [{form.item}]"
        if value is None and form is _MESSAGES:
            return f"is missing (null); expected a list of {items}"
        got = "an empty list" if value == [] else type_in_words(value)
        return f"expected a non-empty list of {items}, got {got}"
    turns = []
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            return f"{form.unit} {number}: expected an object {form.item}, got {type_in_words(item)}"
        turn = _sharegpt_turn(number, item, tools) if form is _SHAREGPT else _message_turn(number, item, tools)
        if not isinstance(turn, _Turn):
            return turn
        turns.append(turn)
    return turns


def _sharegpt_turn(number: int, turn: dict[str, Any], tools: str) -> _Turn | Problem:
    kind = turn.get("from")
    if kind in _SHAREGPT_TOOL_ROLES and tools != TOOLS_ALLOWED:
        return _tool_use(f"turn {number} is a '{kind}' turn", _SHAREGPT, tools)
    allowed = SHAREGPT_FROM + (tuple(_SHAREGPT_TOOL_ROLES) if tools == TOOLS_ALLOWED else ())
    if kind not in allowed:
        return f"turn {number}: 'from' {kind!r} is not one of {', '.join(allowed)}"
    problem = text_problem(turn.get("value"))
    if problem:
        return f"turn {number}: value {problem}"
    if kind != "function_call":
        return _Turn(number, _SHAREGPT_TOOL_ROLES.get(kind) or SHAREGPT_ROLES[kind])
    calls = _json_calls(turn["value"])
    return _Turn(number, "assistant", calls) if isinstance(calls, list) else f"turn {number}: {calls}"


def _message_turn(number: int, message: dict[str, Any], tools: str) -> _Turn | Problem:
    role, content, calls = message.get("role"), message.get("content"), message.get("tool_calls")
    if (calls or role == "tool") and tools != TOOLS_ALLOWED:
        where = f"message {number} has tool_calls" if calls else f"message {number} has role 'tool'"
        return _tool_use(where, _MESSAGES, tools)
    roles = ROLES + (("tool",) if tools == TOOLS_ALLOWED else ())
    if role not in roles:
        return f"message {number}: role {role!r} is not one of {', '.join(roles)}"
    if not calls:
        problem = text_problem(content)
        return f"message {number}: content {problem}" if problem else _Turn(number, role)
    if role != "assistant":
        return f"message {number}: only assistant messages make tool_calls; this one has role {role!r}"
    if content is not None and not isinstance(content, str):
        return f"message {number}: content beside tool_calls must be a string or null, got {type_in_words(content)}"
    parsed = _openai_calls(calls)
    return _Turn(number, role, parsed) if isinstance(parsed, list) else f"message {number}: {parsed}"


def _tool_use(where: str, form: _Form, tools: str) -> Problem:
    if tools == TOOLS_NEED_COLUMN:
        return (
            f"{where}: tool use needs a 'tools' column beside '{form.column}' with the definitions of the tools "
            "the chat calls",
            _TOOLS_HINT,
        )
    return f"{where}: tool use is trained only from tool-calling chats (a chat and a 'tools' column), not from this data", _NO_TOOLS_HINT


def _json_calls(text: str) -> list[dict[str, Any]] | str:
    """A ShareGPT 'function_call' value: JSON {name, arguments} or a list of them; the calls or the problem."""
    expected = 'a \'function_call\' value must be JSON {"name": ..., "arguments": {...}} (or a list of them)'
    try:
        calls = json.loads(text)
    except json.JSONDecodeError:
        return f"{expected}; this one is not JSON"
    calls = calls if isinstance(calls, list) else [calls]
    problem = next((p for p in map(_call_problem, calls) if p), None) if calls else "it is an empty list"
    return f"{expected}; {problem}" if problem else calls


def _openai_calls(value: Any) -> list[dict[str, Any]] | str:
    """An assistant message's tool_calls [{type, function: {name, arguments}}]: the functions or the problem."""
    if not isinstance(value, list):
        return f"tool_calls must be a list of calls [{{type, function: {{name, arguments}}}}], got {type_in_words(value)}"
    functions = [call["function"] if isinstance(call, dict) and isinstance(call.get("function"), dict) else call for call in value]
    problem = next((p for p in map(_call_problem, functions) if p), None)
    return f"tool_calls: {problem}" if problem else functions


def _call_problem(call: Any) -> str | None:
    """What is wrong with one call {name, arguments} (arguments: an object or its JSON text), or None."""
    if not isinstance(call, dict):
        return f"a call must be an object {{name, arguments}}, got {type_in_words(call)}"
    name, arguments = call.get("name"), call.get("arguments")
    if not isinstance(name, str) or not name.strip():
        return "a call has no 'name' (the tool it calls)"
    if isinstance(arguments, str) and arguments.strip():
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return f"the call to '{name}' has 'arguments' that are not JSON"
    if arguments not in (None, "") and not isinstance(arguments, dict):
        return f"the call to '{name}' has 'arguments' {type_in_words(arguments)}; expected an object"
    return None


def _tool_names(value: Any) -> list[str] | str:
    """The names a row's 'tools' cell defines (a JSON list of definitions, or the list; empty: none), or the problem.

    A definition is OpenAI's {"type": "function", "function": {name, description, parameters}} or the bare function.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return []
    expected = 'expected a JSON list of tool definitions [{"name", "description", "parameters"}]'
    tools = value
    if isinstance(value, str):
        try:
            tools = json.loads(value)
        except json.JSONDecodeError:
            return f"is not JSON; {expected}"
    if not isinstance(tools, list):
        return f"{expected}, got {type_in_words(tools)}"
    names = []
    for number, tool in enumerate(tools, start=1):
        function = tool.get("function") if isinstance(tool, dict) and isinstance(tool.get("function"), dict) else tool
        if not isinstance(function, dict):
            return f"tool {number}: expected a definition {{name, description, parameters}}, got {type_in_words(function)}"
        name, parameters = function.get("name"), function.get("parameters")
        if not isinstance(name, str) or not name.strip():
            return f"tool {number} has no 'name'; {expected}"
        if parameters is not None and not isinstance(parameters, dict):
            return f"tool {number} ('{name}'): 'parameters' must be an object (a JSON Schema), got {type_in_words(parameters)}"
        names.append(name)
    return names


SHAPE_CHECKS: dict[RecordShape, dict[str, Check]] = {
    RecordShape.CONVERSATIONAL: {"messages": _chat_check(_MESSAGES, TOOLS_NEED_COLUMN)},
    RecordShape.SHAREGPT: {"conversations": _chat_check(_SHAREGPT, TOOLS_NEED_COLUMN)},
    RecordShape.CONVERSATIONAL_TOOLS: {"messages": _tool_chat_check(_MESSAGES), "tools": _tools_check},
    RecordShape.SHAREGPT_TOOLS: {"conversations": _tool_chat_check(_SHAREGPT), "tools": _tools_check},
    RecordShape.PROMPT_COMPLETION: {"prompt": _text_or_messages_check, "completion": _text_or_messages_check},
    RecordShape.PREFERENCE: {
        "prompt": _text_or_messages_check, "chosen": _text_or_messages_check, "rejected": _rejected_check,
    },
    RecordShape.CONVERSATIONAL_PREFERENCE: {
        "messages": _prompt_turns_check(_MESSAGES), "chosen": _pair_answer_check(_MESSAGES),
        "rejected": _pair_answer_check(_MESSAGES, rejected=True),
    },
    RecordShape.SHAREGPT_PREFERENCE: {
        "conversations": _prompt_turns_check(_SHAREGPT), "chosen": _pair_answer_check(_SHAREGPT),
        "rejected": _pair_answer_check(_SHAREGPT, rejected=True),
    },
}
