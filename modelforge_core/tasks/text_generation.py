"""Text generation evaluation: the loss on the answers (perplexity) and generated answers vs references."""

from __future__ import annotations

import math
from typing import Any

from ..data.formats import RecordShape, detect_shape
from ..data.formatting import to_training_records
from ..schemas.tasks import PREFERENCE_PAIR_SHAPES

MAX_NEW_TOKENS = 64


def prompt_completion_pairs(rows: Any, chat: bool) -> list[tuple[Any, str]]:
    """(prompt, reference answer) pairs from any SFT shape; preference rows use their chosen answer."""
    shape = detect_shape(rows.column_names)
    if shape in PREFERENCE_PAIR_SHAPES:
        from ..strategies.preference_strategy import preference_rows

        rows = preference_rows(rows, shape, chat).rename_column("chosen", "completion").select_columns(["prompt", "completion"])
        shape = RecordShape.PROMPT_COMPLETION
    records = to_training_records(rows, shape, "text-generation", chat=chat)
    if "prompt" not in records.column_names:
        return []
    pairs = []
    for record in records:
        completion = record["completion"]
        text = completion if isinstance(completion, str) else " ".join(m["content"] for m in completion)
        pairs.append((record["prompt"], text))
    return pairs


def prompt_ids(tokenizer: Any, prompt: Any) -> list[int]:
    """Token ids of a prompt as training formats it: chat template with the generation prompt, or plain text."""
    if isinstance(prompt, list):
        return list(tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"])
    return tokenizer(prompt, add_special_tokens=False)["input_ids"]


def answer_loss(model: Any, tokenizer: Any, pairs: list[tuple[Any, str]], max_length: int) -> float | None:
    """Mean cross-entropy over the answer tokens only (the prompt is context, as in training)."""
    import torch

    device = next(model.parameters()).device
    total, count = 0.0, 0
    for prompt, answer in pairs:
        prompt_part = prompt_ids(tokenizer, prompt)
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = (prompt_part + answer_ids)[-max_length:]
        labels = ([-100] * len(prompt_part) + answer_ids)[-max_length:]
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids], device=device), labels=torch.tensor([labels], device=device))
        n = sum(1 for label in labels[1:] if label != -100)
        total, count = total + out.loss.item() * n, count + n
    return total / count if count else None


def generate_answers(model: Any, tokenizer: Any, prompts: list[Any], max_length: int) -> list[str]:
    """Greedy answers, prompted as in training."""
    import torch

    device = next(model.parameters()).device
    answers = []
    for prompt in prompts:
        ids = prompt_ids(tokenizer, prompt)[-max_length:]
        with torch.no_grad():
            out = model.generate(
                input_ids=torch.tensor([ids], device=device), attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=device),
                max_new_tokens=MAX_NEW_TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id,
            )
        answers.append(tokenizer.decode(out[0, len(ids):], skip_special_tokens=True).strip())
    return answers


def evaluate_text_generation(model: Any, tokenizer: Any, rows: Any, max_length: int) -> dict[str, float]:
    """Answer loss and perplexity, and exact match / F1 of generated answers against the references."""
    from ..evaluation.metrics import perplexity, qa_scores

    pairs = prompt_completion_pairs(rows, chat=bool(getattr(tokenizer, "chat_template", None)))
    if not pairs:
        return {}
    loss = answer_loss(model, tokenizer, pairs, max_length)
    scores = qa_scores(generate_answers(model, tokenizer, [p for p, _ in pairs], max_length), [[a] for _, a in pairs])
    return {"loss": loss, "perplexity": perplexity(loss) if loss is not None else math.nan, **scores}
