"""Tokens per sequence of a sample of rows, as the run's strategy prepares them: what the time estimate counts.

Supervised strategies tokenize the rows themselves (their ``input_ids``, and an encoder-decoder's ``labels``,
the decoder's tokens); preference and KTO rows stay text for TRL to tokenize, so each prompt with each
answer is tokenized here (one sequence per answer).
"""

from __future__ import annotations

from typing import Any

SAMPLE_ROWS = 256


def sample_rows(rows: Any, count: int = SAMPLE_ROWS) -> Any:
    """Up to ``count`` rows spread evenly over the split (the same rows each time)."""
    if len(rows) <= count:
        return rows
    step = len(rows) / count
    return rows.select([int(i * step) for i in range(count)])


def sequence_lengths(rows: Any, tokenizer: Any, config: Any, strategy: Any, seq2seq: bool = False) -> list[int]:
    """Tokens of each sequence the sampled rows make (two per preference pair), cut at max_seq_length."""
    if rows is None or len(rows) == 0:
        return []
    prepared = strategy.prepare_dataset(sample_rows(rows), tokenizer, config)
    columns = set(prepared.column_names)
    limit = config.max_seq_length
    if "input_ids" in columns:
        lengths = [min(len(ids), limit) for ids in prepared["input_ids"]]
        if seq2seq and "labels" in columns:
            lengths = [length + min(len(labels), limit) for length, labels in zip(lengths, prepared["labels"])]
        return lengths
    answers = [name for name in ("chosen", "rejected", "completion") if name in columns]
    prompts = prepared["prompt"] if "prompt" in columns else [""] * len(prepared)
    if not answers:  # prompts alone (GRPO): the completions are generated
        return [min(_tokens(tokenizer, prompt, None), limit) for prompt in prompts]
    return [min(_tokens(tokenizer, prompt, answer), limit)
            for name in answers for prompt, answer in zip(prompts, prepared[name])]


def _tokens(tokenizer: Any, prompt: Any, answer: Any) -> int:
    if isinstance(prompt, list) or isinstance(answer, list):  # chat turns
        messages = (prompt if isinstance(prompt, list) else []) + (answer if isinstance(answer, list) else [])
        return len(tokenizer.apply_chat_template(messages, tokenize=True))
    return len(tokenizer(f"{prompt or ''}{answer or ''}")["input_ids"])
