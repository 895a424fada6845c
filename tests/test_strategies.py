"""Each strategy-and-task pair end to end on the demo models, asserting a learning signal."""

from __future__ import annotations

import pytest

from jobs_helpers import run_to_end


def _train(services, config: dict) -> tuple[dict, list[dict]]:
    training, models, _ = services
    job = training.submit(config)
    events = run_to_end(training, job["id"], timeout=600)
    job = training.get_job(job["id"])
    assert job["status"] == "completed", job
    return models.get_model(job["model_id"]), events


@pytest.mark.slow
def test_dpo_learns_to_prefer_the_chosen_answers(services, make_config, samples):
    model, events = _train(services, make_config(
        strategy="dpo", dataset=samples["dpo"], learning_rate=3e-3, max_steps=60, per_device_train_batch_size=4,
        eval_steps=30, lora_dropout=0.0,
    ))
    metrics = model["metrics"]
    assert metrics["initial_reward_margin"] == 0.0, "at step 0 the policy is the reference"
    assert metrics["reward_margin"] > 0.3, metrics
    assert metrics["reward_accuracy"] > 0.6, metrics
    assert "perplexity" not in metrics, "a DPO loss is not a language-model loss"
    train_events = [e for e in events if e["type"] == "train"]
    assert "rewards/margins" in train_events[-1] and "rewards/accuracies" in train_events[-1]
    assert model["strategy"] == "dpo"
