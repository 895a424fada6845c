"""The tokenizer inside a GGUF file: the byte-level BPE vocabulary and merges, token kinds, special token
ids and the chat template, under llama.cpp's ``tokenizer.ggml.*`` keys.

Byte-level BPE tokenizers (Llama 3, Qwen2, SmolLM, GPT-2 and the demo model's) are written; others are
refused in words. ``tokenizer.ggml.pre`` names llama.cpp's rule for splitting text before BPE, found from
the tokenizer's own pre-tokenizer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import ConfigurationError

# The split patterns of known tokenizers, and llama.cpp's name for each rule.
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPLIT_PATTERNS = {LLAMA3_SPLIT: "llama-bpe", QWEN2_SPLIT: "qwen2"}


@dataclass
class GGUFVocab:
    """What the writer puts under ``tokenizer.*``; ``notes`` say what a reader should know."""

    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    pre: str
    bos_id: int | None
    eos_id: int | None
    pad_id: int | None
    add_bos: bool
    chat_template: str | None
    notes: list[str] = field(default_factory=list)


def _pre_tokenizer_rule(pre: dict | None) -> tuple[str, str | None]:
    """llama.cpp's pre-tokenizer name for a tokenizer.json ``pre_tokenizer``, and a note when it is a guess."""
    parts = [] if pre is None else (pre.get("pretokenizers") if pre.get("type") == "Sequence" else [pre])
    kinds = [part.get("type") for part in parts]
    if "ByteLevel" not in kinds:
        raise ConfigurationError(
            "This model's tokenizer is not a byte-level BPE tokenizer, which is what ModelForge writes to GGUF "
            "(Llama 3, Qwen2, SmolLM and GPT-2 style tokenizers).",
            "Export it as a merged model instead; llama.cpp's convert_hf_to_gguf.py converts other tokenizers.",
        )
    splits = [part for part in parts if part.get("type") == "Split"]
    if splits:
        pattern = (splits[0].get("pattern") or {}).get("Regex")
        if pattern in SPLIT_PATTERNS:
            return SPLIT_PATTERNS[pattern], None
        return "default", "the tokenizer's split pattern is not one llama.cpp names, so llama.cpp splits text with its default rule"
    if kinds == ["Digits", "ByteLevel"] and parts[0].get("individual_digits"):
        return "smollm", None  # digits one by one, then GPT-2's rule
    return "gpt-2", None


def _bos_added(tokenizer: Any) -> bool:
    """Whether the tokenizer puts its BOS token in front of plain text (what ``add_bos_token`` tells llama.cpp)."""
    if tokenizer.bos_token_id is None:
        return False
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(ids) and ids[0] == tokenizer.bos_token_id


def gguf_vocab(tokenizer: Any, vocab_size: int) -> GGUFVocab:
    """The vocabulary of a fast (tokenizers-backed) tokenizer, padded with unused tokens to the model's
    embedding rows; ConfigurationError when it is not byte-level BPE."""
    import gguf

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ConfigurationError("This model's tokenizer has no tokenizer.json (a slow tokenizer).",
                                 "Export it as a merged model instead.")
    spec = json.loads(backend.to_str())
    model = spec["model"]
    if model.get("type") != "BPE":
        raise ConfigurationError(
            f"This model's tokenizer is a {model.get('type')} tokenizer; ModelForge writes byte-level BPE tokenizers "
            "to GGUF (Llama 3, Qwen2, SmolLM, GPT-2).",
            "Export it as a merged model instead.",
        )
    pre, note = _pre_tokenizer_rule(spec.get("pre_tokenizer"))
    size = max(vocab_size, len(tokenizer))
    tokens: list[str | None] = [None] * size
    types = [int(gguf.TokenType.NORMAL)] * size
    for text, index in model["vocab"].items():
        tokens[index] = text
    for added in spec.get("added_tokens", []):
        tokens[added["id"]] = added["content"]
        types[added["id"]] = int(gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED)
    for index, text in enumerate(tokens):
        if text is None:
            tokens[index], types[index] = f"[PAD{index}]", int(gguf.TokenType.UNUSED)
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model.get("merges", [])]
    return GGUFVocab(
        tokens=tokens, token_types=types, merges=merges, pre=pre,
        bos_id=tokenizer.bos_token_id, eos_id=tokenizer.eos_token_id, pad_id=tokenizer.pad_token_id,
        add_bos=_bos_added(tokenizer), chat_template=getattr(tokenizer, "chat_template", None),
        notes=[note] if note else [],
    )


def write_vocab(writer: Any, vocab: GGUFVocab) -> None:
    """Put ``vocab`` under llama.cpp's tokenizer keys."""
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    writer.add_token_merges(vocab.merges)
    if vocab.bos_id is not None:
        writer.add_bos_token_id(vocab.bos_id)
    if vocab.eos_id is not None:
        writer.add_eos_token_id(vocab.eos_id)
    if vocab.pad_id is not None:
        writer.add_pad_token_id(vocab.pad_id)
    writer.add_add_bos_token(vocab.add_bos)
    writer.add_add_eos_token(False)
    if vocab.chat_template:
        writer.add_chat_template(vocab.chat_template)
