"""Extractive QA: start/end labels from token offsets (long contexts split with a stride), and
answers predicted back as text spans of the context.

Rows have ``context``, ``question`` and either SQuAD ``answers`` ({"text": [...], "answer_start":
[...]}) or a plain ``answer`` string, located in the context here.
"""

from __future__ import annotations

from typing import Any

STRIDE = 64
MAX_ANSWER_TOKENS = 30
TOP_K = 20


def answer_spans(row: dict) -> tuple[list[str], list[int]]:
    """(texts, character starts) of a row's answers; an empty list means unanswerable."""
    if row.get("answers") is not None:
        return list(row["answers"]["text"]), list(row["answers"]["answer_start"])
    answer = row.get("answer") or ""
    start = row["context"].find(answer) if answer else -1
    return ([answer], [start]) if start >= 0 else ([], [])


def _encode(tokenizer: Any, questions: list[str], contexts: list[str], max_length: int) -> Any:
    return tokenizer(
        questions, contexts, truncation="only_second", max_length=max_length, stride=min(STRIDE, max_length // 4),
        return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length",
    )


def tokenize_qa(rows: Any, tokenizer: Any, max_length: int) -> Any:
    """Training features: input ids with ``start_positions``/``end_positions`` (0 when the span is not in the window)."""
    data = rows.map(lambda row: {"_texts": answer_spans(row)[0], "_starts": answer_spans(row)[1]})
    encoded = _encode(tokenizer, list(data["question"]), list(data["context"]), max_length)
    starts, ends = [], []
    for index, offsets in enumerate(encoded["offset_mapping"]):
        example = encoded["overflow_to_sample_mapping"][index]
        texts, chars = data[example]["_texts"], data[example]["_starts"]
        sequence_ids = encoded.sequence_ids(index)
        if not texts:
            starts.append(0), ends.append(0)
            continue
        start_char, end_char = chars[0], chars[0] + len(texts[0])
        context_tokens = [i for i, s in enumerate(sequence_ids) if s == 1]
        first, last = context_tokens[0], context_tokens[-1]
        if offsets[first][0] > start_char or offsets[last][1] < end_char:
            starts.append(0), ends.append(0)
            continue
        start_token = next(i for i in context_tokens if offsets[i][1] > start_char)
        end_token = next(i for i in reversed(context_tokens) if offsets[i][0] < end_char)
        starts.append(start_token), ends.append(end_token)
    features = {k: encoded[k] for k in encoded if k not in ("offset_mapping", "overflow_to_sample_mapping")}
    features.update(start_positions=starts, end_positions=ends)
    return rows.from_dict(features)


def predict_answers(model: Any, tokenizer: Any, questions: list[str], contexts: list[str], max_length: int) -> list[str]:
    """The best-scoring context span for each question (over all of its windows)."""
    import torch

    device = next(model.parameters()).device
    encoded = _encode(tokenizer, questions, contexts, max_length)
    best: dict[int, tuple[float, str]] = {}
    for index in range(len(encoded["input_ids"])):
        example = encoded["overflow_to_sample_mapping"][index]
        inputs = {k: torch.tensor([encoded[k][index]], device=device) for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded}
        with torch.no_grad():
            output = model(**inputs)
        start_logits, end_logits = output.start_logits[0].tolist(), output.end_logits[0].tolist()
        sequence_ids, offsets = encoded.sequence_ids(index), encoded["offset_mapping"][index]
        context = [i for i, s in enumerate(sequence_ids) if s == 1]
        top_starts = sorted(context, key=lambda i: start_logits[i], reverse=True)[:TOP_K]
        top_ends = sorted(context, key=lambda i: end_logits[i], reverse=True)[:TOP_K]
        for s in top_starts:
            for e in top_ends:
                if s <= e < s + MAX_ANSWER_TOKENS:
                    score = start_logits[s] + end_logits[e]
                    if example not in best or score > best[example][0]:
                        best[example] = (score, contexts[example][offsets[s][0]:offsets[e][1]])
    return [best.get(i, (0.0, ""))[1].strip() for i in range(len(questions))]
