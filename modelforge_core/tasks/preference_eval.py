"""RLHF evaluation: the reward model's mean score for the policy's greedy answers to held-out prompts."""

from __future__ import annotations

from typing import Any

from .text_generation import prompt_ids


def mean_reward(policy: Any, reward_model: Any, tokenizer: Any, prompts: list[Any], max_new_tokens: int) -> float:
    """Greedy answers of ``policy`` scored by ``reward_model`` (prompt and answer as GRPO shows them)."""
    import torch

    device = next(policy.parameters()).device
    scores = []
    for prompt in prompts:
        ids = prompt_ids(tokenizer, prompt)
        with torch.no_grad():
            out = policy.generate(
                input_ids=torch.tensor([ids], device=device), attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=device),
                max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
            )
        answer = tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)
        if isinstance(prompt, list):
            text = tokenizer.apply_chat_template([*prompt, {"role": "assistant", "content": answer}], tokenize=False)
        else:
            text = prompt + answer
        inputs = tokenizer(text, return_tensors="pt", truncation=True, max_length=1024).to(device)
        with torch.no_grad():
            scores.append(reward_model(**inputs).logits[0, 0].item())
    return sum(scores) / len(scores) if scores else float("nan")
