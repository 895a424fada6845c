"""KTO on the demo model: answers labelled desirable or not (and preference pairs, split into such rows) raise the
held-out reward margin of the desirable answers; uneven classes are balanced by the loss weights, said in the log;
data KTO cannot learn from is refused in words."""

from __future__ import annotations

import json
import re

import pytest

from modelforge_core.data.formats import RecordShape
from modelforge_core.exceptions import ConfigurationError, DatasetValidationError
from modelforge_core.schemas import TrainingConfig
from modelforge_core.services.run_validation import validate_run
from modelforge_core.strategies.kto_strategy import KTOStrategy, balancing_weights, kto_rows

from jobs_helpers import run_to_end


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def _labelled_chats(count, desirable):
    """``count`` one-turn chats; row i labelled ``desirable(i)``."""
    return [
        {"messages": [{"role": "user", "content": f"Spell {i}."}, {"role": "assistant", "content": f"{i} is {i}."}],
         "label": desirable(i)}
        for i in range(count)
    ]


def _run(services, config):
    training, models, _ = services
    job = training.submit(config)
    events = run_to_end(training, job["id"], timeout=600)
    return training.get_job(job["id"]), events, models


def _logs(events):
    return [e["message"] for e in events if e["type"] == "log"]


def _strategy(tmp_path):
    from modelforge_core.providers.provider_factory import ProviderFactory

    return KTOStrategy(provider=ProviderFactory.create("huggingface"), output_dir=tmp_path)


def test_kto_raises_the_held_out_margin_of_the_desirable_answers(services, make_config, samples):
    """The sample: demo-task answers, 3 of 4 right (desirable), the rest a wrong digit word or a numeral (undesirable).
    Seeded, so the same every run: held-out margin 0 -> 0.54, eval loss 0.750 -> 0.667 (with learning_rate 1e-6 the
    margin stays 0.0)."""
    job, events, models = _run(services, make_config(
        strategy="kto", dataset=samples["kto"], learning_rate=3e-3, max_steps=40, eval_steps=40,
        per_device_train_batch_size=4, eval_split=0.3, logging_steps=10, lora_dropout=0.0, save_steps=100,
    ))
    assert job["status"] == "completed", job
    metrics = models.get_model(job["model_id"])["metrics"]
    assert metrics["initial_reward_margin"] == 0.0 and metrics["initial_kl"] == 0.0, "at step 0 the policy is the reference"
    assert metrics["reward_margin"] > metrics["initial_reward_margin"] + 0.3, metrics
    assert metrics["eval_loss"] < metrics["initial_eval_loss"] - 0.03, metrics
    assert metrics["kl"] > 0 and "perplexity" not in metrics, metrics
    logs = _logs(events)
    assert "Dataset: 160 rows, shape 'kto'; 112 for training, 48 for evaluation" in logs, logs
    assert "KTO: 84 desirable and 28 undesirable training rows; undesirable_weight 3.0 balances them (the other weight 1.0)." in logs
    train_events = [e for e in events if e["type"] == "train" and "rewards/margins" in e]
    assert train_events and "kl" in train_events[-1] and "eval_rewards/margins" in [e for e in events if e["type"] == "eval"][-1]


def test_preference_pairs_train_kto_as_one_desirable_and_one_undesirable_row_each(services, make_config, samples):
    job, events, _ = _run(services, make_config(
        strategy="kto", dataset=samples["dpo"], learning_rate=1e-3, max_steps=2, eval_steps=2, logging_steps=1,
        per_device_train_batch_size=2, eval_split=0.1, save_steps=100,
    ))
    assert job["status"] == "completed", job
    logs = _logs(events)
    pairs = re.search(r"(\d+) for training, (\d+) for evaluation", next(m for m in logs if m.startswith("Dataset:")))
    train_pairs, eval_pairs = map(int, pairs.groups())
    split = next(m for m in logs if "each preference pair split into" in m)
    assert split.endswith(f"{2 * train_pairs} training rows and {2 * eval_pairs} eval rows."), split
    assert f"KTO: {train_pairs} desirable and {train_pairs} undesirable training rows; weights 1.0 and 1.0" in logs[logs.index(split) + 1]
    assert any(e["type"] == "train" and "rewards/margins" in e for e in events)


def test_pairs_and_labelled_chats_become_trls_unpaired_rows():
    import datasets

    pairs = datasets.Dataset.from_list([
        {"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "Seven."},
        {"prompt": "Name a fruit.", "chosen": "A pear.", "rejected": "A chair."},
    ])
    rows = kto_rows(pairs, RecordShape.PREFERENCE, chat=True)
    assert len(rows) == 4 and sorted(rows["label"]) == [False, False, True, True]
    assert {"prompt": [{"role": "user", "content": "Name a colour."}], "completion": [{"role": "assistant", "content": "Seven."}],
            "label": False} in rows.to_list()
    sharegpt = datasets.Dataset.from_list([
        {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}],
         "kto_tag": True},
    ])
    assert kto_rows(sharegpt, RecordShape.KTO, chat=True)[0] == {
        "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "completion": [{"role": "assistant", "content": "Hello!"}], "label": True,
    }
    assert kto_rows(sharegpt, RecordShape.KTO, chat=False)[0] == {
        "prompt": "### System:\nBe brief.\n\n### Instruction:\nHi\n\n### Response:\n", "completion": "Hello!", "label": True,
    }
    completions = datasets.Dataset.from_list([{"prompt": "Say 4.", "completion": "four", "label": False}])
    assert kto_rows(completions, RecordShape.KTO, chat=False)[0] == {"prompt": "Say 4.", "completion": "four", "label": False}
    with pytest.raises(DatasetValidationError, match="not KTO data: KTO needs a chat with a true/false label"):
        kto_rows(datasets.Dataset.from_list([{"input": "a", "output": "b"}]), RecordShape.MODELFORGE, chat=True)


def test_the_default_weights_balance_uneven_classes_as_the_kto_paper_recommends():
    for desirable, undesirable in [(30, 90), (90, 30), (58, 28), (7, 3), (1, 1000), (12, 12)]:
        weights = balancing_weights(desirable, undesirable)
        ratio = weights[0] * desirable / (weights[1] * undesirable)
        assert 1.0 <= ratio <= 4 / 3 and 1.0 in weights, (desirable, undesirable, weights)
    assert balancing_weights(30, 90) == (3.0, 1.0) and balancing_weights(90, 30) == (1.0, 3.0)


def test_weights_set_in_the_config_are_used_and_said(tmp_path, demo_model):
    import datasets

    strategy = _strategy(tmp_path)
    rows = datasets.Dataset.from_dict({"label": [True] * 30 + [False] * 10})
    config = TrainingConfig(model_name=demo_model, dataset="x.jsonl", strategy="kto", kto_undesirable_weight=1.5)
    assert strategy.loss_weights(rows, config) == (1.0, 1.5)
    assert strategy.notes[-1] == (
        "KTO: 30 desirable and 10 undesirable training rows; desirable_weight 1.0 and undesirable_weight 1.5 as set: weighted "
        "ratio 2.00; outside the balanced range 1-1.33 that the KTO paper recommends (clear kto_desirable_weight and "
        "kto_undesirable_weight to have them balanced)."
    )
    assert strategy.loss_weights(rows, config.model_copy(update={"kto_undesirable_weight": 2.5})) == (1.0, 2.5)
    assert strategy.notes[-1].endswith("weighted ratio 1.20.")
    with pytest.raises(ValueError, match="greater than 0"):
        TrainingConfig(model_name=demo_model, dataset="x.jsonl", strategy="kto", kto_desirable_weight=0)


def test_one_class_only_is_refused_before_training_with_the_counts(services, make_config, tmp_path):
    training, _, _ = services
    path = _write_jsonl(tmp_path / "all_good.jsonl", _labelled_chats(20, lambda i: True))
    with pytest.raises(DatasetValidationError) as info:
        training.submit(make_config(strategy="kto", dataset=path, per_device_train_batch_size=2))
    assert (
        "KTO: the rows hold 20 desirable and 0 undesirable answers (every label is true); KTO learns from the "
        "difference between the two, so it needs both."
    ) in info.value.message, info.value.message
    assert "Add rows labelled false (answers the model should avoid), or train on these answers with strategy 'sft'." in info.value.hint
    assert training.list_jobs() == [], "nothing was queued"


def test_all_undesirable_rows_are_refused_too(tmp_path, demo_model):
    import datasets

    config = TrainingConfig(model_name=demo_model, dataset="x.jsonl", strategy="kto")
    with pytest.raises(DatasetValidationError) as info:
        _strategy(tmp_path).loss_weights(datasets.Dataset.from_dict({"label": [False] * 12}), config)
    assert "the training rows hold 0 desirable and 12 undesirable answers (every label is false)" in info.value.message
    assert info.value.hint == "Add rows labelled true (answers the model should give)."


def test_data_without_labels_is_refused_in_words_naming_what_kto_needs(make_config, tmp_path, samples):
    for dataset in (samples["sft"], _write_jsonl(tmp_path / "chats.jsonl", [
        {key: value for key, value in row.items() if key != "label"} for row in _labelled_chats(12, bool)
    ])):
        with pytest.raises(DatasetValidationError) as info:
            validate_run(make_config(strategy="kto", dataset=dataset))
        assert "cannot train strategy 'kto': it needs a chat with a true/false label (is the answer desirable?), or " \
               "preference pairs (a prompt, a chosen and a rejected answer)." in info.value.message, info.value.message
        hint = info.value.hint
        assert hint.startswith("Pick strategy 'sft', ") and "'kto'" not in hint and ", which train " in hint, hint
    thumbs = [{**{k: v for k, v in row.items() if k != "label"}, "thumbs_up": row["label"]} for row in _labelled_chats(12, lambda i: i % 3 > 0)]
    mapped = validate_run(make_config(strategy="kto", dataset=_write_jsonl(tmp_path / "thumbs.jsonl", thumbs),
                                      column_mapping={"thumbs_up": "label"}))
    assert mapped.strategy == "kto", "a label column of another name is mapped with column_mapping"


def test_a_batch_of_one_row_is_refused_in_words(demo_model):
    from modelforge_core.schemas import parse_training_config

    with pytest.raises(ConfigurationError, match=r"KTO needs at least 2 rows per batch \(per_device_train_batch_size is 1\)") as info:
        parse_training_config({"model_name": demo_model, "dataset": "x.jsonl", "strategy": "kto", "per_device_train_batch_size": 1})
    assert "set per_device_train_batch_size to 2 or more" in info.value.message
    assert parse_training_config({"model_name": demo_model, "dataset": "x.jsonl", "per_device_train_batch_size": 1}), "SFT takes one"
