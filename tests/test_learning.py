"""Fine-tuning is seen to work, not only to run: the demo model learns the demo task."""

from __future__ import annotations

import json

import pytest

from modelforge_core.data.demo_task import make_demo_task_rows
from modelforge_core.data.formatting import build_prompt

from jobs_helpers import run_to_end

HELD_OUT = 60


def _answers(model_path: str, rows: list[dict]) -> list[str]:
    """Greedy answers of the model (or LoRA adapter) at ``model_path``, prompted exactly as training formats them."""
    import os

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if os.path.exists(os.path.join(model_path, "adapter_config.json")):
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(model_path).eval()
    else:
        model = AutoModelForCausalLM.from_pretrained(model_path).eval()
    answers = []
    for row in rows:
        messages = build_prompt(row["instruction"], row["input"], chat=True)
        inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=4, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        answers.append(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    return answers


def _accuracy(model_path: str, rows: list[dict]) -> float:
    return sum(a == r["output"] for a, r in zip(_answers(model_path, rows), rows)) / len(rows)


@pytest.mark.slow
def test_finetuned_demo_model_answers_held_out_questions_better_than_its_base(services, make_config, samples, demo_model, tmp_path):
    training, models, _ = services
    from modelforge_core.demo import DEMO_TRAINING

    config = make_config(**{**DEMO_TRAINING, "lora_r": 16, "lora_alpha": 32, "save_steps": 1000, "eval_steps": 300})
    job = training.submit(config)
    run_to_end(training, job["id"], timeout=600)
    job = training.get_job(job["id"])
    assert job["status"] == "completed", job
    metrics = models.get_model(job["model_id"])["metrics"]
    assert metrics["eval_loss"] < 0.3 * metrics["initial_eval_loss"], metrics

    trained = {(r["instruction"], r["input"]) for r in map(json.loads, open(samples["sft"], encoding="utf-8"))}
    held_out = make_demo_task_rows(HELD_OUT, seed=1234, exclude=trained)
    base_accuracy = _accuracy(demo_model, held_out)
    tuned_accuracy = _accuracy(models.get_model(job["model_id"])["path"], held_out)
    print(f"held-out accuracy: base {base_accuracy:.2f}, fine-tuned {tuned_accuracy:.2f}; metrics {metrics}")
    assert tuned_accuracy >= 0.8, tuned_accuracy
    assert tuned_accuracy >= base_accuracy + 0.5, (base_accuracy, tuned_accuracy)

    # the product's own evaluation (the `evaluate` command) sees the same: base = adapter disabled
    from modelforge_core.services.evaluation_service import EvaluationService

    held_out_file = tmp_path / "held_out.jsonl"
    held_out_file.write_text("".join(json.dumps(r) + "\n" for r in held_out), encoding="utf-8")
    result = EvaluationService(models).evaluate(job["model_id"], str(held_out_file), samples=HELD_OUT)
    assert result["rows"] == HELD_OUT
    assert result["model"]["exact_match"] == pytest.approx(tuned_accuracy)
    assert result["base"]["exact_match"] == pytest.approx(base_accuracy)
    assert result["model"]["loss"] < result["base"]["loss"]
