"""Each strategy-and-task pair end to end on the demo models, asserting a learning signal."""

from __future__ import annotations

import pytest

from jobs_helpers import train_to_model


@pytest.mark.slow
def test_dpo_learns_to_prefer_the_chosen_answers(services, make_config, samples):
    model, events = train_to_model(services, make_config(
        strategy="dpo", dataset=samples["dpo"], learning_rate=3e-3, max_steps=60, per_device_train_batch_size=4, eval_split=0.3,
        eval_steps=30, lora_dropout=0.0, per_device_eval_batch_size=32,
    ))
    metrics = model["metrics"]
    assert metrics["initial_reward_margin"] == 0.0, "at step 0 the policy is the reference"
    assert metrics["reward_margin"] > 0.3, metrics
    # held-out pairs: the DPO loss falls from log 2 and the chosen answers win more often than chance
    # (seeded, so the same every run: loss 0.46, accuracy 0.76)
    assert metrics["eval_loss"] < metrics["initial_eval_loss"] - 0.1, metrics
    assert metrics["reward_accuracy"] > 0.5, metrics
    assert "perplexity" not in metrics, "a DPO loss is not a language-model loss"
    train_events = [e for e in events if e["type"] == "train"]
    assert "rewards/margins" in train_events[-1] and "rewards/accuracies" in train_events[-1]
    assert model["strategy"] == "dpo"


@pytest.mark.slow
def test_rlhf_trains_a_reward_model_then_raises_the_policys_reward(services, make_config, samples, tmp_path):
    model, events = train_to_model(services, make_config(
        strategy="rlhf", dataset=samples["dpo"], learning_rate=5e-3, max_steps=32, reward_max_steps=40, reward_batch_size=4, dpo_beta=0.02,
        per_device_train_batch_size=16, logging_steps=1, lora_dropout=0.0, max_completion_length=16,
    ))
    metrics = model["metrics"]
    assert metrics["reward_model_accuracy"] > 0.55, metrics  # 16 held-out pairs; chance is 0.5; seeded run: 0.75
    # the reward model's score of the policy's greedy answers to the held-out prompts, before and after RL
    assert metrics["held_out_reward"] > metrics["initial_held_out_reward"], metrics
    assert metrics["kl"] > 0, "the policy moved away from the base, under a KL penalty"
    stages = {e.get("stage") for e in events if e["type"] == "train"}
    assert stages == {"reward model", "policy"}, "one job, two stages, both in its events"
    policy_rewards = [e["reward"] for e in events if e["type"] == "train" and e.get("stage") == "policy"]
    assert policy_rewards, "stage 2 logs its mean reward"
    from pathlib import Path

    reward_folder = Path(model["path"]) / "reward_model"
    assert (reward_folder / "adapter_config.json").is_file(), "the registry keeps the reward model"

    reused, reused_events = train_to_model(services, make_config(
        strategy="rlhf", dataset=samples["dpo"], learning_rate=3e-3, max_steps=4, per_device_train_batch_size=4,
        logging_steps=2, max_completion_length=16, reward_model=str(reward_folder),
    ))
    assert {e.get("stage") for e in reused_events if e["type"] == "train"} == {"policy"}, "a reused reward model skips stage 1"


@pytest.mark.slow
def test_seq2seq_summarization_beats_the_base_models_rouge(services, make_config, samples, demo_models):
    model, _ = train_to_model(services, make_config(
        task="summarization", model_name=demo_models["seq2seq"], dataset=samples["summarization"],
        finetuning_type="full", learning_rate=1e-3, max_steps=200, eval_steps=100, per_device_train_batch_size=4,
    ))
    metrics = model["metrics"]
    assert metrics["rougeL"] > metrics["initial_rougeL"] + 0.05, metrics  # step 0 is the base model
    assert metrics["eval_loss"] < metrics["initial_eval_loss"]
    assert {"rouge1", "rouge2", "rougeL", "perplexity"} <= set(metrics)


@pytest.mark.slow
def test_decoder_only_summarization_learns_with_loss_on_the_summary(services, make_config, samples):
    model, _ = train_to_model(services, make_config(
        task="summarization", dataset=samples["summarization"], learning_rate=3e-3, max_steps=100, eval_steps=100,
        per_device_train_batch_size=4, lora_dropout=0.0, eval_generation_samples=6,
    ))
    metrics = model["metrics"]
    assert metrics["eval_loss"] < metrics["initial_eval_loss"], metrics
    assert metrics["rougeL"] > metrics["initial_rougeL"], metrics


@pytest.mark.slow
def test_extractive_qa_beats_the_base_models_f1(services, make_config, samples, demo_models):
    model, _ = train_to_model(services, make_config(
        task="extractive-question-answering", model_name=demo_models["qa"], dataset=samples["qa-demo"],
        finetuning_type="full", learning_rate=1e-3, max_steps=200, eval_steps=200, per_device_train_batch_size=8,
        max_seq_length=64,
    ))
    metrics = model["metrics"]
    assert metrics["f1"] > metrics["initial_f1"] + 0.2, metrics
    assert metrics["f1"] >= metrics["exact_match"]
    assert "perplexity" not in metrics, "a span loss is not a language-model loss"


def test_a_causal_lm_is_refused_for_extractive_qa(services, make_config, samples):
    from modelforge_core.exceptions import ModelAccessError

    training, _, db = services
    with pytest.raises(ModelAccessError, match="cannot serve the task 'extractive-question-answering'") as info:
        training.submit(make_config(task="extractive-question-answering", dataset=samples["extractive-question-answering"]))
    assert "BERT" in info.value.hint and db.list_jobs() == []


@pytest.mark.parametrize("strategy", ["dpo", "rlhf"])
def test_preference_strategies_only_train_text_generation(services, make_config, samples, strategy):
    from modelforge_core.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match=f"Strategy '{strategy}' cannot train the task 'summarization'"):
        services[0].submit(make_config(task="summarization", strategy=strategy, dataset=samples["dpo"]))


@pytest.mark.parametrize(
    "key,row,words",
    [
        ("dpo", {"prompt": "Say hi", "chosen": "Hello", "rejected": "Hello"}, ["row 3", "rejected", "same as 'chosen'"]),
        ("dpo", {"prompt": "Say hi", "chosen": "", "rejected": "Bye"}, ["row 3", "chosen"]),
        ("extractive-question-answering", {"context": "Paris is in France.", "question": "Where?", "answers": {"text": ["Spain"], "answer_start": [12]}}, ["row 3", "answers", "Spain"]),
        ("summarization", {"document": "A long text.", "summary": "  "}, ["row 3", "summary"]),
    ],
)
def test_bad_preference_summarization_and_qa_records_name_their_row(services, make_config, samples, tmp_path, key, row, words):
    import json

    from modelforge_core.exceptions import DatasetValidationError

    rows = [json.loads(line) for line in open(samples[key], encoding="utf-8")][:20]
    rows[2] = row
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    task = {"dpo": "text-generation"}.get(key, key)
    strategy = "dpo" if key == "dpo" else "sft"
    with pytest.raises(DatasetValidationError) as info:
        services[0].submit(make_config(task=task, strategy=strategy, dataset=str(path)))
    for word in words:
        assert word in str(info.value), str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize("task,model_kind,dataset_key", [
    ("text-generation", "causal", "sft"),
    ("summarization", "seq2seq", "summarization"),
])
def test_qlora_trains_in_4_bit_on_the_cpu_and_says_what_it_costs(services, make_config, samples, demo_models, task, model_kind, dataset_key):
    model, events = train_to_model(services, make_config(
        task=task, strategy="qlora", model_name=demo_models[model_kind], dataset=samples[dataset_key],
        learning_rate=3e-3, max_steps=12, per_device_train_batch_size=4, eval_steps=12, eval_generation_samples=2,
    ))
    assert model["metrics"]["eval_loss"] < model["metrics"]["initial_eval_loss"], model["metrics"]
    messages = " ".join(e.get("message", "") for e in events if e["type"] == "log")
    assert "4-bit nf4 (double quantization)" in messages and "4-bit on the CPU" in messages
    assert model["config"]["use_4bit"] is True
