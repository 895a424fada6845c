"""GRPO with rule-based rewards: each rule, the refusals in words, the rows it trains on, learning on the demo task;
and RLHF's second stage with RLOO."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from modelforge_core.exceptions import ConfigurationError
from modelforge_core.strategies import rewards
from modelforge_core.strategies.rewards import exact_match, final_answer, last_number, length, numeric_match

from jobs_helpers import train_to_model

TAGS = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def _config(**fields) -> SimpleNamespace:
    """The reward fields of a TrainingConfig, at their defaults unless given."""
    from modelforge_core.schemas import TrainingConfig

    names = ("rewards", "reward_format_pattern", "reward_tolerance", "reward_length_target", "reward_model",
             "max_completion_length")
    defaults = {name: TrainingConfig.model_fields[name].default for name in names}
    return SimpleNamespace(**{**defaults, **fields})


# the rules


def test_the_final_answer_is_the_tagged_text_else_the_last_line():
    assert final_answer("I think <answer> 42 </answer> is it", TAGS) == " 42 "
    assert final_answer("First the tens.\nThen the units.\n\n  seven  \n", TAGS) == "  seven  "
    assert final_answer("", TAGS) == ""
    assert final_answer("the result: 17, so", re.compile(r"\d+")) == "17", "a pattern without a group: the match"


def test_exact_match_compares_final_answers_ignoring_whitespace_and_case():
    completions = [" Six \n", "seven", "<answer>SIX</answer>", "Counting...\nsix", "six seven", [{"role": "assistant", "content": "six"}]]
    assert exact_match(completions, ["six"] * 6, TAGS) == [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    assert exact_match(["#### 72"], ["Half of 144.\n#### 72"], TAGS) == [1.0], "the reference's final answer too"


def test_numeric_match_compares_the_last_numbers_within_the_tolerance():
    completions = ["The answer is 72.", "<answer>1,234.5</answer>", "about 3.14", "no idea", "-3", "72"]
    references = ["#### 72", "1234.5", "3.14159", "5", "3", "seventy-two"]
    assert numeric_match(completions, references, TAGS, tolerance=0.0) == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert numeric_match(["about 3.14"], ["3.14159"], TAGS, tolerance=0.01) == [1.0]
    assert last_number("from 10 to 1,500.25 units") == 1500.25 and last_number("none") is None


def test_format_rewards_a_match_of_the_pattern():
    fmt = rewards.RULES["format"]
    assert fmt(["<answer>42</answer>", "42", "<answer>4\n2</answer>"], TAGS) == [1.0, 0.0, 1.0]
    anchored = re.compile(r"^<answer>.*</answer>$", re.DOTALL)
    assert fmt(["<answer>42</answer>", "<answer>42</answer> and more"], anchored) == [1.0, 0.0]


def test_length_penalises_tokens_past_the_target_down_to_minus_one():
    assert length([[1] * 3, [1] * 4, [1] * 6, [1] * 8, [1] * 20], target=4) == [0.0, 0.0, -0.5, -1.0, -1.0]


def test_reward_functions_take_trls_arguments_and_carry_the_users_names():
    names = ["exact_match", "numeric_match", "format", "length"]
    functions = rewards.reward_functions(_config(reward_length_target=2), names)
    assert [f.func.__name__ for f in functions] == names  # TRL logs rewards/<name>/mean, the partial's function name
    trl_kwargs = {
        "prompts": ["q1", "q2"], "completions": ["<answer>8</answer>", "seven, or 8 maybe"],
        "completion_ids": [[5, 6, 7], [5]], "reference": ["8", "eight"], "trainer_state": None,
        "log_extra": None, "log_metric": None,
    }
    assert [f(**trl_kwargs) for f in functions] == [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [-0.5, 0.0]]


# the refusals


def test_an_unknown_reward_is_refused_listing_the_valid_ones():
    with pytest.raises(ConfigurationError) as info:
        rewards.check_rewards(_config(rewards={"exact_match": 1.0, "exactmatch": 0.5}), has_reference=True)
    assert "'exactmatch'" in info.value.message
    for name in ("exact_match", "numeric_match", "format", "length", "reward_model"):
        assert name in info.value.message


def test_reference_rules_on_rows_without_references_are_refused_in_words():
    with pytest.raises(ConfigurationError) as info:
        rewards.check_rewards(_config(), has_reference=False)  # the default is exact_match
    assert "'exact_match'" in info.value.message and "reference answer" in info.value.message
    assert '{"question": "prompt", "answer": "completion"}' in info.value.hint
    assert rewards.check_rewards(_config(rewards={"format": 1.0, "length": 0.1}), has_reference=False) == {
        "format": 1.0, "length": 0.1,
    }


@pytest.mark.parametrize(
    "fields,words",
    [
        ({"rewards": {}}, "names no reward"),
        ({"rewards": {"reward_model": 1.0}}, "the reward_model field names no reward model"),
        ({"rewards": {"length": 1.0}, "reward_length_target": 64}, "it would always be 0"),
        ({"rewards": {"format": float("nan")}}, "not a finite number"),
    ],
)
def test_rewards_that_cannot_work_are_refused(fields, words):
    with pytest.raises(ConfigurationError, match=words):
        rewards.check_rewards(_config(**fields), has_reference=True)


def test_the_reward_model_joins_the_rewards_when_its_field_is_set():
    assert rewards.check_rewards(_config(reward_model="/some/reward_model"), has_reference=True) == {
        "exact_match": 1.0, "reward_model": 1.0,
    }


def test_a_bad_format_pattern_is_refused_at_config_time(make_config):
    from modelforge_core.schemas import parse_training_config

    with pytest.raises(ConfigurationError) as info:
        parse_training_config(make_config(strategy="grpo", reward_format_pattern="<answer>(.*</answer>"))
    assert "reward_format_pattern" in info.value.message and "not a regular expression" in info.value.message


def test_the_rewards_help_names_every_reward():
    from modelforge_core.schemas import TrainingConfig

    description = TrainingConfig.model_fields["rewards"].description
    assert all(name in description for name in rewards.REWARD_NAMES)


# the rows


def test_supervised_rows_become_prompts_with_references():
    from datasets import Dataset

    from modelforge_core.data.formats import RecordShape
    from modelforge_core.data.formatting import build_prompt
    from modelforge_core.strategies.grpo_strategy import grpo_rows

    alpaca = Dataset.from_list([{"instruction": "Spell the first digit of the number.", "input": "42", "output": "four"}])
    chat = grpo_rows(alpaca, RecordShape.ALPACA, chat=True)[0]
    assert chat == {"prompt": build_prompt("Spell the first digit of the number.", "42", chat=True), "reference": "four"}
    plain = grpo_rows(alpaca, RecordShape.ALPACA, chat=False)[0]
    assert plain["prompt"] == build_prompt("Spell the first digit of the number.", "42", chat=False)
    messages = Dataset.from_list([{"messages": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
    ]}])
    row = grpo_rows(messages, RecordShape.CONVERSATIONAL, chat=True)[0]
    assert row["reference"] == "4" and [m["content"] for m in row["prompt"]] == ["Hi", "Hello", "2+2?"]


def test_rows_without_a_reference_answer_are_refused_for_grpo():
    from modelforge_core.data.formats import RecordShape
    from modelforge_core.data.shape_strategies import shape_refusal

    for shape in (RecordShape.PREFERENCE, RecordShape.KTO, RecordShape.TEXT):
        refusal = shape_refusal(shape, "grpo", "text-generation")
        assert "cannot train strategy 'grpo': it scores each sampled answer against the row's one reference answer" in (
            refusal.message), refusal.message
    for shape in (RecordShape.ALPACA, RecordShape.MODELFORGE, RecordShape.PROMPT_COMPLETION, RecordShape.CONVERSATIONAL):
        assert shape_refusal(shape, "grpo", "text-generation") is None, shape


def test_prompts_longer_than_max_seq_length_are_left_out_and_said(demo_model):
    from datasets import Dataset
    from transformers import AutoTokenizer

    from modelforge_core.exceptions import DatasetValidationError
    from modelforge_core.strategies.grpo_strategy import prompt_lengths, without_long_prompts

    tokenizer = AutoTokenizer.from_pretrained(demo_model)
    chats = [[{"role": "user", "content": " ".join(["seven"] * words)}] for words in (2, 3, 200)]
    rows = Dataset.from_dict({"prompt": chats, "reference": ["a", "b", "c"]})
    lengths = prompt_lengths(chats, tokenizer)
    assert lengths[0] < lengths[1] < 64 < lengths[2], lengths
    kept, note = without_long_prompts(rows, tokenizer, 64)
    assert kept["reference"] == ["a", "b"]
    assert note == (f"1 of 3 prompts are longer than max_seq_length (64 tokens) and are left out: the answers are sampled "
                    f"after the whole prompt, so a prompt is never cut. Raise max_seq_length to {lengths[2]} to keep them all.")
    assert without_long_prompts(rows, tokenizer, lengths[2]) == (rows, None)
    with pytest.raises(DatasetValidationError, match=r"Every prompt is longer than max_seq_length \(4 tokens"):
        without_long_prompts(rows, tokenizer, 4)


def test_an_unknown_reward_is_refused_before_a_job_exists(services, make_config):
    training, _, db = services
    with pytest.raises(ConfigurationError, match="'exactmatch', which is not a reward ModelForge knows. Valid rewards: "
                                                  "exact_match, numeric_match, format, length, reward_model"):
        training.submit(make_config(strategy="grpo", rewards={"exactmatch": 1.0}))
    assert db.list_jobs() == []


def test_the_method_settings_are_config_fields():
    from modelforge_core.schemas import TrainingConfig
    from modelforge_core.strategies.grpo_strategy import GRPOStrategy
    from modelforge_core.strategies.rlhf_strategy import RLHFStrategy

    for strategy in (GRPOStrategy, RLHFStrategy):
        assert set(strategy.settings) <= set(TrainingConfig.model_fields), strategy
    assert "rlhf_algorithm" in RLHFStrategy.settings and "rewards" in GRPOStrategy.settings


# training


@pytest.fixture
def single_thread_workers(monkeypatch):
    """Workers with one CPU thread: on a shared CPU, torch's thread pool on this tiny model waits far more than it
    computes (measured: a forward pass 1 s with 2 threads under load, 35 ms with one)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.mark.slow
def test_grpo_raises_held_out_exact_match_over_a_briefly_fine_tuned_start(services, make_config, samples, tmp_path,
                                                                          single_thread_workers):
    from modelforge_core.data.demo_task import make_demo_task_rows

    # the start: the demo model after 150 steps of SFT on the shipped demo rows, about two thirds of its answers right
    # (after fewer steps its answers are so unsure that sampled ones are mostly wrong, and GRPO's gain is noise)
    start, _ = train_to_model(services, make_config(
        finetuning_type="full", learning_rate=1e-3, max_steps=150, per_device_train_batch_size=8, eval_split=0.0,
        save_steps=1000,
    ))
    # GRPO on fresh demo questions (none seen by SFT); its held-out rows are the eval split
    seen = {(r["instruction"], r["input"]) for r in map(json.loads, open(samples["sft"], encoding="utf-8"))}
    fresh = tmp_path / "fresh_demo_questions.jsonl"
    fresh.write_text("".join(json.dumps(r) + "\n" for r in make_demo_task_rows(2000, seed=7, exclude=seen)), encoding="utf-8")
    model, events = train_to_model(services, make_config(
        strategy="grpo", model_name=start["path"], dataset=str(fresh), eval_split=0.06, eval_generation_samples=120,
        eval_steps=80, learning_rate=5e-3, warmup_ratio=0.1, max_steps=80, per_device_train_batch_size=64,
        num_generations=4, max_completion_length=8, dpo_beta=0.05, lora_dropout=0.0, logging_steps=10, save_steps=1000,
    ))
    metrics = model["metrics"]
    print(f"held-out exact match: start {metrics['initial_exact_match']:.3f}, after GRPO {metrics['exact_match']:.3f}; {metrics}")
    assert 0.2 < metrics["initial_exact_match"] < 0.8, "the start answers some questions, far from all"
    assert metrics["exact_match"] >= metrics["initial_exact_match"] + 0.08, metrics
    assert metrics["mean_reward"] > metrics["initial_mean_reward"], metrics
    train_events = [e for e in events if e["type"] == "train"]
    assert all("rewards/exact_match/mean" in e and "reward" in e for e in train_events), train_events[-1]
    assert model["strategy"] == "grpo"
    from pathlib import Path

    assert not (Path(model["path"]) / "ref").exists(), "the reference is the base with the adapter off, not a copy"


@pytest.mark.slow
def test_rlhf_with_rloo_trains_its_policy_and_grpo_scores_with_its_reward_model(services, make_config, samples,
                                                                                single_thread_workers):
    from pathlib import Path

    import torch
    from trl import RLOOConfig

    model, events = train_to_model(services, make_config(
        strategy="rlhf", rlhf_algorithm="rloo", dataset=samples["dpo"], reward_max_steps=10, reward_batch_size=4,
        max_steps=6, per_device_train_batch_size=8, num_generations=4, max_completion_length=8, logging_steps=2,
        learning_rate=3e-3, eval_split=0.1, eval_generation_samples=4,
    ))
    policy_steps = [e for e in events if e["type"] == "train" and e.get("stage") == "policy"]
    assert policy_steps and policy_steps[-1]["step"] == 6, policy_steps
    assert all("reward" in e and "rewards/reward_model/mean" in e for e in policy_steps), policy_steps[-1]
    args = torch.load(Path(model["path"]) / "training_args.bin", weights_only=False)
    assert isinstance(args, RLOOConfig), type(args)
    assert "mean_reward" in model["metrics"] and "held_out_reward" in model["metrics"]

    reward_folder = str(Path(model["path"]) / "reward_model")
    scored, scored_events = train_to_model(services, make_config(
        strategy="grpo", reward_model=reward_folder, rewards={"exact_match": 1.0, "reward_model": 0.5}, max_steps=4,
        per_device_train_batch_size=8, num_generations=4, max_completion_length=8, logging_steps=2, eval_split=0.05,
        eval_generation_samples=8,
    ))
    last = [e for e in scored_events if e["type"] == "train"][-1]
    assert {"rewards/exact_match/mean", "rewards/reward_model/mean", "reward"} <= set(last), last
    assert {"exact_match", "initial_exact_match"} <= set(scored["metrics"])
