"""ORPO and SimPO (reference-free preference training) end to end on the demo model, and their refusals."""

from __future__ import annotations

import pytest

from jobs_helpers import train_to_model

# 82 pairs, 25 held out and evaluated in one batch: TRL averages its per-batch accuracies, so an uneven last batch
# would weigh its few pairs as much as a full batch
PAIR_RUN = {"learning_rate": 5e-3, "max_steps": 60, "per_device_train_batch_size": 4, "eval_split": 0.3, "eval_steps": 30,
            "per_device_eval_batch_size": 32, "lora_dropout": 0.0}


def _assert_learned_the_preference(metrics: dict, events: list[dict]) -> None:
    """Held-out pairs: the chosen answers win clearly more often than chance, and more often than at step 0."""
    assert metrics["reward_accuracy"] >= 0.65, metrics
    assert metrics["reward_accuracy"] > metrics["initial_reward_accuracy"], metrics
    assert metrics["reward_margin"] > metrics["initial_reward_margin"], metrics
    assert metrics["eval_loss"] < metrics["initial_eval_loss"], metrics
    assert metrics["chosen_logp"] - metrics["rejected_logp"] > metrics["initial_chosen_logp"] - metrics["initial_rejected_logp"]
    assert "perplexity" not in metrics, "a preference loss is not a language-model loss"
    train_events = [e for e in events if e["type"] == "train"]
    assert "rewards/accuracies" in train_events[-1] and "logps/chosen" in train_events[-1]
    eval_events = [e for e in events if e["type"] == "eval"]
    assert eval_events[0]["step"] == 0 and "eval_rewards/margins" in eval_events[-1]


@pytest.mark.slow
def test_orpo_learns_to_prefer_the_chosen_answers(services, make_config, samples):
    # the random demo model's language-model loss (about 8) would drown the odds-ratio term at TRL's 0.1 in 60 steps
    # (seeded: held-out accuracy 0.72 -> 0.76 and reward margin 1.06 -> 4.52 at 10.0)
    model, events = train_to_model(services, make_config(strategy="orpo", dataset=samples["dpo"], orpo_beta=10.0, **PAIR_RUN))
    metrics = model["metrics"]
    _assert_learned_the_preference(metrics, events)
    # ORPO's loss includes the language-model loss on the prompts and chosen answers: it falls as they are learned
    assert metrics["chosen_nll_loss"] < metrics["initial_chosen_nll_loss"], metrics
    assert metrics["log_odds_chosen"] > metrics["initial_log_odds_chosen"], metrics
    assert model["strategy"] == "orpo"


@pytest.mark.slow
def test_simpo_learns_to_prefer_the_chosen_answers(services, make_config, samples):
    model, events = train_to_model(services, make_config(strategy="simpo", dataset=samples["dpo"], **PAIR_RUN))
    _assert_learned_the_preference(model["metrics"], events)
    assert model["strategy"] == "simpo"


@pytest.mark.parametrize("strategy", ["orpo", "simpo", "dpo"])
def test_pair_strategies_refuse_data_without_pairs_in_words(services, make_config, samples, strategy):
    from modelforge_core.exceptions import DatasetValidationError

    training, _, db = services
    with pytest.raises(DatasetValidationError) as info:
        training.submit(make_config(strategy=strategy, dataset=samples["sft"]))
    message = str(info.value)
    assert f"cannot train strategy '{strategy}'" in message, message
    assert "a chosen and a rejected answer to each prompt" in message, message
    assert "'sft'" in info.value.hint, info.value.hint
    assert db.list_jobs() == []


@pytest.mark.parametrize("strategy", ["orpo", "simpo"])
def test_pair_strategies_refuse_labelled_single_answers_in_words(services, make_config, tmp_path, strategy):
    import json

    from modelforge_core.exceptions import DatasetValidationError

    rows = [{"prompt": f"What is {n} + 1?", "completion": str(n + 1 if n % 2 else n), "label": bool(n % 2)} for n in range(20)]
    path = tmp_path / "labelled.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    with pytest.raises(DatasetValidationError) as info:
        services[0].submit(make_config(strategy=strategy, dataset=str(path)))
    message = str(info.value)
    assert f"cannot train strategy '{strategy}'" in message, message
    assert "needs a chosen and a rejected answer to the same prompt" in message, message


def test_the_settings_reach_trls_trainer_configs(tmp_path):
    from types import SimpleNamespace

    from modelforge_core.schemas.training_config import TrainingConfig
    from modelforge_core.strategies import TrainingStrategy
    from modelforge_core.strategies.strategy_factory import StrategyFactory

    config = TrainingConfig(model_name="demo", dataset="pairs.jsonl", orpo_beta=0.3, simpo_beta=2.5, simpo_gamma=1.2)
    orpo = StrategyFactory.create("orpo", provider=SimpleNamespace(), output_dir=tmp_path)
    simpo = StrategyFactory.create("simpo", provider=SimpleNamespace(), output_dir=tmp_path)
    assert orpo.method_arguments(config) == {"beta": 0.3}
    assert simpo.method_arguments(config) == {"loss_type": "simpo", "cpo_alpha": 0.0, "beta": 2.5, "simpo_gamma": 1.2}
    assert type(orpo).settings == ("orpo_beta",) and type(simpo).settings == ("simpo_beta", "simpo_gamma")
    assert not orpo.reports_perplexity and not simpo.reports_perplexity
    assert isinstance(orpo, TrainingStrategy) and isinstance(simpo, TrainingStrategy)
    assert all(name in TrainingConfig.model_fields for name in type(orpo).settings + type(simpo).settings)
