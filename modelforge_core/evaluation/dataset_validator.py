"""Check a loaded dataset against its record shape, row by row, before any training starts.

``DatasetValidator.validate`` returns a ``ValidationReport`` listing every problem with its 1-based
row number and field; ``ValidationReport.raise_if_invalid`` turns it into a DatasetValidationError.
Warnings (rows that repeat an earlier row) are kept apart from the problems: they never block a run.
Chats are read turn by turn (ShareGPT turns or role/content messages): a tool's result must follow a call, a
call must name a tool the row's ``tools`` define, and tool turns in a chat without ``tools`` are refused as such.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from ..data.formats import OPTIONAL_FIELDS, RecordShape, describe_shape, resolve_fields
from ..data.formatting import SHAREGPT_ROLES
from ..data.loading import type_in_words
from ..exceptions import DatasetValidationError

if TYPE_CHECKING:
    import datasets

ROLES = ("system", "user", "assistant")
SHAREGPT_FROM = ("human", "gpt", "system", "user", "assistant")
_BATCH = 1000


@dataclass
class ValidationIssue:
    """One problem: ``row`` is 1-based (None for the whole dataset), ``field`` the column."""

    row: int | None
    field: str | None
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        where += [f"field '{self.field}'"] if self.field else []
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class ValidationReport:
    """What the validator found; ``total_issues`` also counts issues beyond those kept in ``issues``.

    ``warnings`` are said but do not block; ``repeated_rows`` are the 1-based rows equal to an earlier row.
    """

    source: str
    shape: RecordShape | None
    num_rows: int
    columns: list[str]
    issues: list[ValidationIssue] = field(default_factory=list)
    total_issues: int = 0
    warnings: list[str] = field(default_factory=list)
    repeated_rows: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.total_issues = max(self.total_issues, len(self.issues))

    @property
    def ok(self) -> bool:
        return self.total_issues == 0

    def summary(self, max_lines: int = 10) -> str:
        """Several human-readable lines: the dataset, then the first issues with their rows."""
        shape = self.shape.value if self.shape else "unknown"
        lines = [f"{self.source}: {self.num_rows} rows, format {shape}, columns: {', '.join(self.columns) or 'none'}."]
        if self.ok:
            lines.append("No problems found.")
        else:
            lines.append(f"{self.total_issues} problem(s) found:")
            lines += [f"  - {issue}" for issue in self.issues[:max_lines]]
            if self.total_issues > min(max_lines, len(self.issues)):
                lines.append(f"  ... and {self.total_issues - min(max_lines, len(self.issues))} more.")
        lines += [f"Warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)

    def raise_if_invalid(self) -> None:
        """Raise DatasetValidationError naming the source and the first rows and fields at fault."""
        if self.ok:
            return
        shown = "; ".join(str(issue) for issue in self.issues[:5])
        more = f" (and {self.total_issues - 5} more)" if self.total_issues > 5 else ""
        hints = list(dict.fromkeys(issue.hint for issue in self.issues if issue.hint))
        raise DatasetValidationError(
            f"{self.source}: {self.total_issues} problem(s): {shown}{more}.",
            " ".join(hints[:2]) or None,
        )


class DatasetValidator:
    """Checks row count, required fields, and each row's values for a record shape."""

    def __init__(self, min_rows: int = 10, max_reported: int = 20):
        self.min_rows = min_rows
        self.max_reported = max_reported

    def validate(self, dataset: datasets.Dataset, shape: RecordShape, source: str = "dataset") -> ValidationReport:
        """Every problem of ``dataset`` read as ``shape``; never raises for bad data."""
        shape = RecordShape(shape)
        columns = list(dataset.column_names)
        report = ValidationReport(source=source, shape=shape, num_rows=len(dataset), columns=columns)
        for issue in self._issues(dataset, shape, columns):
            report.total_issues += 1
            if len(report.issues) < self.max_reported:
                report.issues.append(issue)
        report.repeated_rows = [index + 1 for index in repeated_row_indices(row_fingerprints(dataset))]
        if report.repeated_rows:
            report.warnings.append(repeated_rows_warning(report.repeated_rows))
        return report

    def _issues(self, dataset: datasets.Dataset, shape: RecordShape, columns: list[str]) -> Iterator[ValidationIssue]:
        if len(dataset) < self.min_rows:
            yield ValidationIssue(
                None,
                None,
                f"the dataset has {len(dataset)} row(s); at least {self.min_rows} are needed",
                f"Add rows until there are at least {self.min_rows}.",
            )
        resolved = resolve_fields(shape, columns)
        missing = [name for name, col in resolved.items() if col is None]
        for name in missing:
            yield ValidationIssue(
                None,
                name,
                f"required column missing for {describe_shape(shape)}; columns present: {', '.join(columns) or 'none'}",
                "Rename your columns to the expected fields with column_mapping.",
            )
        checks = _row_checks(shape, resolved)
        checked = [col for col in checks if col in columns]
        if not checked:
            return
        offset = 0
        for batch in dataset.select_columns(checked).iter(batch_size=_BATCH):
            size = len(next(iter(batch.values())))
            for i in range(size):
                row = {col: batch[col][i] for col in batch}
                for col in checked:
                    problem = checks[col](row[col], row)
                    if problem:
                        message, hint = problem if isinstance(problem, tuple) else (problem, _ROW_HINT)
                        yield ValidationIssue(offset + i + 1, col, message, hint)
            offset += size


def row_fingerprints(dataset: datasets.Dataset) -> list[bytes]:
    """One digest per row of all its columns' content (lists and objects by their JSON text): equal rows,
    equal digests."""
    columns = list(dataset.column_names)
    fingerprints = []
    for batch in dataset.iter(batch_size=_BATCH):
        for values in zip(*(batch[col] for col in columns)):
            text = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
            fingerprints.append(hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest())
    return fingerprints


def repeated_row_indices(fingerprints: list[bytes]) -> list[int]:
    """The 0-based indices of the rows whose content equals an earlier row's (the first of each stays out)."""
    seen: set[bytes] = set()
    repeated = []
    for index, fingerprint in enumerate(fingerprints):
        if fingerprint in seen:
            repeated.append(index)
        seen.add(fingerprint)
    return repeated


def row_list(rows: list[int], shown: int = 10) -> str:
    """``row 4`` or ``rows 4, 7, 9`` (the first ``shown``, then how many more)."""
    text = ", ".join(map(str, rows[:shown])) + (f" and {len(rows) - shown} more" if len(rows) > shown else "")
    return f"row {text}" if len(rows) == 1 else f"rows {text}"


def repeated_rows_warning(rows: list[int]) -> str:
    """The warning for the 1-based ``rows`` that repeat an earlier row."""
    count = "1 row repeats" if len(rows) == 1 else f"{len(rows)} rows repeat"
    return (
        f"{count} an earlier row ({row_list(rows)}): repeats weigh more in training and can end up in both the "
        "training and the eval rows. Turn on drop_duplicates ('Drop duplicate rows') to drop them before the split."
    )


_ROW_HINT = "Fix or remove the rows named (row 1 is the first data row), then load the dataset again."
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


def _row_checks(shape: RecordShape, resolved: dict[str, str | None]) -> dict[str, Check]:
    """Column -> check(value, row) returning a problem in words, or None."""
    checks: dict[str, Check] = {col: _text_check for col in resolved.values() if col is not None}
    checks.update({name: _optional_text_check for name in OPTIONAL_FIELDS[shape]})
    checks.update(_SHAPE_CHECKS.get(shape, {}))
    if shape is RecordShape.KTO:
        checks.update(_kto_checks(resolved))
    elif shape is RecordShape.EXTRACTIVE_QA and resolved["answers"]:
        checks[resolved["answers"]] = _answers_check if resolved["answers"] == "answers" else _answer_check
    return checks


def _text_check(value: Any, row: dict[str, Any]) -> str | None:
    return _text_problem(value)


def _optional_text_check(value: Any, row: dict[str, Any]) -> str | None:
    return None if value is None or isinstance(value, str) else _text_problem(value)


def _text_or_messages_check(value: Any, row: dict[str, Any]) -> Problem | None:
    if isinstance(value, list):
        return _chat_problem(value, _MESSAGES, TOOLS_REFUSED, whole_chat=False)
    problem = _text_problem(value)
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
            return _text_problem(value) or (_same_answers(value, row) if rejected else None)
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


def _kto_checks(resolved: dict[str, str | None]) -> dict[str, Check]:
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
    problem = _text_problem(turn.get("value"))
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
        problem = _text_problem(content)
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


_SHAPE_CHECKS: dict[RecordShape, dict[str, Check]] = {
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


def _answers_check(value: Any, row: dict[str, Any]) -> str | None:
    return _answers_problem(value, row.get("context"))


def _answer_check(value: Any, row: dict[str, Any]) -> str | None:
    problem = _text_problem(value)
    context = row.get("context")
    if not problem and isinstance(context, str) and value not in context:
        return "does not occur in 'context'; it must be copied exactly from the context"
    return problem


def _text_problem(value: Any) -> str | None:
    if value is None:
        return "is missing (null); expected a non-empty string"
    if not isinstance(value, str):
        return f"expected a string, got {type_in_words(value)}"
    if not value.strip():
        return "is empty; expected a non-empty string"
    return None


def _answers_problem(value: Any, context: Any) -> str | None:
    expected = 'expected a SQuAD-style object {"text": [...], "answer_start": [...]}'
    if not isinstance(value, dict) or not isinstance(value.get("text"), list) or not isinstance(
        value.get("answer_start"), list
    ):
        return f"{expected}, got {type_in_words(value)}"
    texts, starts = value["text"], value["answer_start"]
    if len(texts) != len(starts):
        return f"has {len(texts)} text(s) but {len(starts)} answer_start value(s); they must pair up"
    for number, (text, start) in enumerate(zip(texts, starts), start=1):
        if not isinstance(text, str) or not text.strip():
            return f"answer {number}: text must be a non-empty string"
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            return f"answer {number}: answer_start must be a non-negative integer, got {start!r}"
        if isinstance(context, str) and context[start : start + len(text)] != text:
            found = context.find(text)
            where = f"it occurs at {found}" if found >= 0 else "it does not occur in the context"
            return f"answer {number}: context at answer_start {start} is not {text!r} ({where})"
    return None
