"""Summarization: rows -> model inputs (labels from the summary only), and summaries generated for ROUGE."""

from __future__ import annotations

from typing import Any

from ..data.formats import RecordShape, resolve_fields
from ..data.formatting import SUMMARIZE_INSTRUCTION, build_prompt

MAX_SUMMARY_TOKENS = 128


def documents_and_summaries(rows: Any) -> tuple[list[str], list[str]]:
    """(documents, summaries) of summarization rows (document/article/text + summary)."""
    columns = resolve_fields(RecordShape.SUMMARIZATION, rows.column_names)
    return list(rows[columns["document"]]), list(rows["summary"])


def tokenize_seq2seq(rows: Any, tokenizer: Any, max_length: int, task: str = "summarization") -> Any:
    """Encoder inputs from the document (or prompt), labels from the summary (or answer) only."""
    from ..data.formats import detect_shape
    from ..data.formatting import to_training_records

    if detect_shape(rows.column_names) is RecordShape.SUMMARIZATION:
        documents, summaries = documents_and_summaries(rows)
    else:
        pairs = to_training_records(rows, detect_shape(rows.column_names), task, chat=False)
        documents, summaries = list(pairs["prompt"]), list(pairs["completion"])
    data = rows.from_dict({"document": documents, "summary": summaries})

    def encode(batch: dict) -> dict:
        inputs = tokenizer(batch["document"], max_length=max_length, truncation=True)
        labels = tokenizer(text_target=batch["summary"], max_length=MAX_SUMMARY_TOKENS, truncation=True)
        inputs["labels"] = labels["input_ids"]
        return inputs

    return data.map(encode, batched=True, remove_columns=["document", "summary"], desc="Tokenizing documents")


def generate_summaries(model: Any, tokenizer: Any, documents: list[str], *, seq2seq: bool, max_length: int) -> list[str]:
    """Greedy summaries; a causal LM gets the same prompt format it was trained with."""
    import torch

    chat = bool(getattr(tokenizer, "chat_template", None))
    outputs = []
    model_device = next(model.parameters()).device
    for document in documents:
        if seq2seq:
            inputs = tokenizer(document, max_length=max_length, truncation=True, return_tensors="pt")
        else:
            prompt = build_prompt(SUMMARIZE_INSTRUCTION, document, chat=chat)
            if chat:
                inputs = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            else:
                inputs = tokenizer(prompt, return_tensors="pt")
            inputs = {k: v[:, -max_length:] for k, v in inputs.items()}
        inputs = {k: v.to(model_device) for k, v in inputs.items()}
        with torch.no_grad():
            generated = model.generate(
                **inputs, max_new_tokens=MAX_SUMMARY_TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        new_tokens = generated[0] if seq2seq else generated[0, inputs["input_ids"].shape[1]:]
        outputs.append(tokenizer.decode(new_tokens, skip_special_tokens=True).strip())
    return outputs
