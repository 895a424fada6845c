"""Chats as the tokens a causal LM trains on: ``input_ids`` and a ``completion_mask`` (1 = in the loss).

Every assistant reply is trained by default (``mask_history`` trains the last one only); system, user and
tool turns are context. With a chat template, a reply's tokens are those between the conversation
rendered up to it with the generation prompt and the conversation rendered through it (its end-of-turn
token included), as TRL marks a completion; without one, the turns are written with ``### ...`` labels
and each reply's text is trained, the last followed by the end-of-sequence token (as TRL adds it).
The SFT strategy trains on exactly these tokens (TRL truncates them to ``max_length`` and drops rows
left with nothing to learn); the dataset check shows them.
"""

from __future__ import annotations

import bisect
import os
from typing import Any

from ..exceptions import DatasetValidationError
from .conversation import Conversation
from .formatting import PLAIN_ROLE_LABELS

TOOL_PROBE = "modelforge_probe_tool"
PARALLEL_ROWS, MAX_WORKERS = 50_000, 8  # datasets this large are tokenized by one process per core (up to 8)
EVERYTHING = [(-1, 2**62)]  # the spans of a row whose every token is trained (special tokens too)


def render_chat(tokenizer: Any, messages: list[dict], tools: list[dict] | None, *, generation_prompt: bool = False) -> str:
    """The chat template's text for ``messages`` (and ``tools``)."""
    return tokenizer.apply_chat_template(
        messages, tools=tools, tokenize=False, add_generation_prompt=generation_prompt
    )


def tokenize_conversation(
    conversation: Conversation, tokenizer: Any, *, chat: bool, mask_history: bool = False, completion_only_loss: bool = True
) -> dict[str, list[int]]:
    """``{"input_ids", "completion_mask"}`` of one row; without ``completion_only_loss`` every token is trained."""
    return tokenize_batch([conversation], tokenizer, chat=chat, mask_history=mask_history, completion_only_loss=completion_only_loss)[0]


def tokenize_batch(
    conversations: list[Conversation], tokenizer: Any, *, chat: bool, mask_history: bool = False, completion_only_loss: bool = True
) -> list[dict[str, list[int]]]:
    """``tokenize_conversation`` for many rows at once (a fast tokenizer encodes the batch in one call)."""
    texts, spans = [], []
    for conversation in conversations:
        text, trained = conversation_text(conversation, tokenizer, chat=chat, mask_history=mask_history)
        texts.append(text)
        spans.append(trained if completion_only_loss else EVERYTHING)
    # the tokenizer's own special tokens (BOS) where TRL adds them: plain text, and prompts without a chat template
    special = not chat or any(c.text is not None for c in conversations)
    if getattr(tokenizer, "is_fast", False):
        encoded = tokenizer(texts, add_special_tokens=special, return_offsets_mapping=True)
        return [
            {"input_ids": ids, "completion_mask": _mask_from_offsets(offsets, trained)}
            for ids, offsets, trained in zip(encoded["input_ids"], encoded["offset_mapping"], spans)
        ]
    masked = [_token_mask(tokenizer, text, trained, add_special_tokens=special) for text, trained in zip(texts, spans)]
    return [{"input_ids": ids, "completion_mask": mask} for ids, mask in masked]


def conversation_text(conversation: Conversation, tokenizer: Any, *, chat: bool, mask_history: bool) -> tuple[str, list[tuple[int, int]]]:
    """The text the model reads for one row and the character spans it learns (plain text: all of it, with EOS)."""
    if conversation.text is not None:
        text = conversation.text + (tokenizer.eos_token or "")
        return text, EVERYTHING
    return _chat_text(conversation, tokenizer, mask_history) if chat else _plain_text(conversation, tokenizer, mask_history)


def _mask_from_offsets(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    """1 for each token whose text starts inside a span (special tokens the tokenizer adds have empty offsets)."""
    if spans == EVERYTHING:
        return [1] * len(offsets)
    starts = [low for low, _ in offsets]
    mask = [0] * len(offsets)
    for low, high in spans:  # offsets rise through the text: each span is one run of tokens
        first, last = bisect.bisect_left(starts, low), bisect.bisect_left(starts, high)
        mask[first:last] = [int(offsets[i][1] > offsets[i][0]) for i in range(first, last)]
    return mask


def _trained_turns(conversation: Conversation, mask_history: bool) -> list[int]:
    turns = conversation.assistant_turns
    return turns[-1:] if mask_history else turns


def _chat_text(conversation: Conversation, tokenizer: Any, mask_history: bool) -> tuple[str, list[tuple[int, int]]]:
    """The rendered chat and the character spans of the trained replies."""
    messages, tools = conversation.messages, conversation.tools
    full = render_chat(tokenizer, messages, tools)
    spans = []
    for index in _trained_turns(conversation, mask_history):
        start = _common_prefix(render_chat(tokenizer, messages[:index], tools, generation_prompt=True), full)
        end = len(full) if index + 1 == len(messages) else _common_prefix(render_chat(tokenizer, messages[: index + 1], tools), full)
        if end > start:
            spans.append((start, end))
    return full, spans


def _plain_text(conversation: Conversation, tokenizer: Any, mask_history: bool) -> tuple[str, list[tuple[int, int]]]:
    """Turns with role labels (as ``formatting.render_plain`` writes a prompt); the last reply ends with EOS."""
    if conversation.uses_tools:
        raise DatasetValidationError(
            "Tool-calling chats need a chat template to render the tools and the calls, and this tokenizer has none.",
            "Pick a model whose tokenizer has a chat template that supports tools (an instruct or chat model).",
        )
    trained = set(_trained_turns(conversation, mask_history))
    last = conversation.assistant_turns[-1] if conversation.assistant_turns else -1
    if conversation.plain_prompt is not None:  # one turn, written as training always wrote it (``build_prompt``)
        reply = conversation.messages[last]["content"] + (tokenizer.eos_token or "")
        return conversation.plain_prompt + reply, [(len(conversation.plain_prompt), len(conversation.plain_prompt) + len(reply))]
    text, spans = "", []
    for index, message in enumerate(conversation.messages):
        text += f"{PLAIN_ROLE_LABELS.get(message['role'], message['role'])}\n"
        reply = message["content"] + ((tokenizer.eos_token or "") if index == last else "")
        if index in trained:
            spans.append((len(text), len(text) + len(reply)))
        text += reply if index == last else reply + "\n\n"
        if index == last:
            break
    return text, spans


def _common_prefix(text: str, other: str) -> int:
    """How many leading characters the two share (all of ``text`` when ``other`` starts with it, the usual case)."""
    return len(text) if other.startswith(text) else len(os.path.commonprefix([text, other]))


def _token_mask(tokenizer: Any, text: str, spans: list[tuple[int, int]], *, add_special_tokens: bool) -> tuple[list[int], list[int]]:
    """Token ids of ``text`` and 1 for each token that starts inside a trained character span.

    Fast tokenizers give each token's offset; for slow ones a span's edges are found as the number of
    leading tokens ``text`` shares with the text cut at that edge.
    """
    if getattr(tokenizer, "is_fast", False):
        encoded = tokenizer(text, add_special_tokens=add_special_tokens, return_offsets_mapping=True)
        mask = [int(low < high and any(start <= low < end for start, end in spans)) for low, high in encoded["offset_mapping"]]
        return encoded["input_ids"], mask
    from trl.data_utils import common_prefix_length

    ids = tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
    if spans == EVERYTHING:
        return ids, [1] * len(ids)
    mask = [0] * len(ids)
    for start, end in spans:
        first, last = (common_prefix_length(tokenizer(text[:edge], add_special_tokens=add_special_tokens)["input_ids"], ids) for edge in (start, end))
        mask[first:last] = [1] * (last - first)
    return ids, mask


def template_tool_problem(tokenizer: Any) -> str | None:
    """Why the tokenizer's chat template cannot train tool-calling chats, in words; None when it renders the
    tool definitions, the assistant's calls and the tool's results."""
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        return "it has no chat template"
    tools = [{"type": "function", "function": {"name": TOOL_PROBE, "description": "probe", "parameters": {"type": "object", "properties": {}}}}]
    call = {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": TOOL_PROBE + "_call", "arguments": {}}}]}
    try:
        with_tools = render_chat(tokenizer, [{"role": "user", "content": "hi"}], tools)
        with_call = render_chat(tokenizer, [{"role": "user", "content": "hi"}, call, {"role": "tool", "content": "probe result"}], tools)
    except Exception as err:  # noqa: BLE001 - a template raises whatever its author wrote
        return f"its chat template fails on tool messages ({err})"
    if TOOL_PROBE not in with_tools:
        return "its chat template ignores tool definitions (the 'tools' column)"
    if TOOL_PROBE + "_call" not in with_call:
        return "its chat template ignores the assistant's tool calls"
    if "probe result" not in with_call:
        return "its chat template ignores tool results"
    return None


def refuse_tools_without_template(tokenizer: Any, model_label: str) -> None:
    """DatasetValidationError in words when the model's chat template cannot render tool-calling chats."""
    problem = template_tool_problem(tokenizer)
    if problem:
        raise DatasetValidationError(
            f"The dataset is a tool-calling chat, but the tokenizer of {model_label} cannot render it: {problem}. "
            "Training on it would teach calls to tools the model never sees.",
            "Pick a model whose chat template supports tools (e.g. Qwen2.5 Instruct, Llama 3.1 Instruct, Mistral "
            "Instruct v0.3), or remove the tool turns and the tools column.",
        )


def segments(tokenizer: Any, input_ids: list[int], mask: list[int], max_length: int | None = None) -> list[dict[str, Any]]:
    """The row as runs of text, each ``{"text", "kind", "tokens"}`` with kind ``trained``, ``context`` (masked) or
    ``cut`` (past ``max_length``, truncated away): how the dataset check shows what the model learns."""
    kinds = ["cut" if max_length is not None and index >= max_length else ("trained" if bit else "context")
             for index, bit in enumerate(mask)]
    runs: list[dict[str, Any]] = []
    start = 0
    for index in range(1, len(input_ids) + 1):
        if index == len(input_ids) or kinds[index] != kinds[start]:
            piece = input_ids[start:index]
            runs.append({"text": tokenizer.decode(piece), "kind": kinds[start], "tokens": len(piece)})
            start = index
    return runs


def tokenize_rows(
    dataset: Any, shape: Any, tokenizer: Any, *, chat: bool, mask_history: bool, completion_only_loss: bool,
    cache_file: str | None = None,
) -> Any:
    """Validated SFT rows -> a dataset of ``input_ids`` and ``completion_mask``, read from ``cache_file`` when a
    run with the same rows, tokenizer and settings wrote it (``token_cache.cache_file_for``)."""
    from .conversation import row_conversation
    from .formats import resolve_fields

    columns = resolve_fields(shape, dataset.column_names)
    sample = dataset.select(range(min(len(dataset), 50)))
    if chat and ("tools" in dataset.column_names or any(row_conversation(row, shape, columns).uses_tools for row in sample)):
        refuse_tools_without_template(tokenizer, getattr(tokenizer, "name_or_path", "") or "this model")

    def convert(batch: dict[str, list]) -> dict[str, list]:
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        conversations = [row_conversation(row, shape, columns) for row in rows]
        tokens = tokenize_batch(
            conversations, tokenizer, chat=chat, mask_history=mask_history, completion_only_loss=completion_only_loss
        )
        return {"input_ids": [t["input_ids"] for t in tokens], "completion_mask": [t["completion_mask"] for t in tokens]}

    import datasets

    workers = min(os.cpu_count() or 1, MAX_WORKERS) if len(dataset) >= PARALLEL_ROWS else None
    features = datasets.Features(  # 4 bytes a token id, 1 a mask bit: the cache stays small, its pages few
        {"input_ids": datasets.Sequence(datasets.Value("int32")), "completion_mask": datasets.Sequence(datasets.Value("int8"))}
    )
    return dataset.map(
        convert, batched=True, batch_size=256, remove_columns=dataset.column_names, desc="Tokenizing and masking rows",
        features=features,
        cache_file_name=cache_file, load_from_cache_file=cache_file is not None, num_proc=workers if workers and workers > 1 else None,
    )
