"""The Finetune tab's pieces without a browser: form -> config, and events -> what the page shows."""

from __future__ import annotations

import json

import pytest

from modelforge_core.demo import DEMO_TRAINING
from modelforge_core.hardware.profiles import PROFILES
from modelforge_core.services.hardware_service import HardwareService, reference_machine
from ui.finetune_form import (
    ADVANCED_FIELDS,
    BASIC_FIELDS,
    build_config,
    default_value,
    render_config,
    values_to_config_dict,
)
from ui.hardware_tab import carried_form_values, recommendations_frame
from ui.job_view import JobView

TASKS = ("text-generation", "summarization", "extractive-question-answering")


def _form(**overrides) -> dict:
    values = {
        "task": "text-generation", "model_name": "/models/demo", "provider": "huggingface", "strategy": "sft",
        "dataset": "/data/d.jsonl", "column_mapping": "", "compute_specs": "cpu", "num_train_epochs": 1,
        "max_steps": -1, "learning_rate": 0.0002, "per_device_train_batch_size": 4, "max_seq_length": 512,
        "eval_split": 0.2, "lora_r": 16, "lora_alpha": 32, "eval_steps": 0, "target_modules": "all-linear",
        "output_name": "",
    }
    values.update(overrides)
    return values


def test_form_values_become_a_config_in_the_seed_shape():
    config = build_config(_form(column_mapping='{"q": "instruction"}', target_modules="q_proj, v_proj", eval_steps=10))
    assert config.column_mapping == {"q": "instruction"}
    assert config.target_modules == ["q_proj", "v_proj"] and config.eval_steps == 10
    assert "output_name" not in values_to_config_dict(_form())


def test_render_config_gives_json_and_cli_or_the_error_in_words():
    text, cli, error = render_config(_form())
    assert error == "" and json.loads(text)["model_name"] == "/models/demo"
    assert "python -m modelforge_core train --config" in cli
    text, cli, error = render_config(_form(learning_rate=0))
    assert text == "" and "learning_rate must be positive" in error
    _, _, error = render_config(_form(column_mapping="{not json"))
    assert "Column mapping is not valid JSON" in error


def test_job_view_follows_events_to_a_completed_job():
    view = JobView("abc")
    view.add({"type": "status", "status": "queued", "message": "Job queued", "time": 1})
    view.add({"type": "queue", "position": 2, "time": 2})
    assert "position 2" in view.status_markdown()
    view.add({"type": "status", "status": "running", "message": "Training started", "time": 3})
    view.add({"type": "progress", "step": 5, "total_steps": 10, "elapsed_s": 2.0, "eta_s": 2.0, "time": 4})
    view.add({"type": "train", "step": 5, "loss": 2.5, "learning_rate": 1e-3, "time": 4})
    view.add({"type": "eval", "step": 5, "eval_loss": 2.0, "eval_perplexity": 7.39, "eval_mean_token_accuracy": 0.5, "time": 5})
    assert 'data-percent="50"' in view.progress_html() and "5/10 steps" in view.progress_html()
    assert set(view.loss_frame()["series"]) == {"train loss", "eval loss"}
    assert view.loss_frame()["step"].dtype == "int64"
    assert list(view.metrics_frame()["series"]) == ["mean_token_accuracy"], "metrics on a 0-1 scale only"
    view.add({"type": "end", "status": "completed", "model_id": "m1", "model_name": "demo-sft", "time": 6})
    assert view.finished and view.percent() == 100 and "demo-sft" in view.status_markdown()
    assert "Training started" in view.log_text()


def test_job_view_sends_no_empty_plot_and_shows_failures_in_words():
    view = JobView("x")
    assert view.loss_frame() is None and view.metrics_frame() is None
    view.add({"type": "end", "status": "failed", "error": {"message": "Out of memory.", "hint": "Lower the batch size."}, "time": 1})
    assert "Out of memory. Lower the batch size." in view.status_markdown()


def _first_form(machine: dict, demo_model: str, samples: dict) -> dict:
    """The Finetune form as a fresh page shows it: the demo model on the demo task, with the demo's settings."""
    defaults = {**machine["profile_defaults"], **DEMO_TRAINING}
    values = {field.name: default_value(field.name, defaults) for field in (*BASIC_FIELDS, *ADVANCED_FIELDS)}
    values.update(task="text-generation", model_name=demo_model, provider="huggingface", strategy="sft",
                  dataset=samples["sft"], column_mapping="", compute_specs=machine["compute_profile"])
    return values


def _machine(profile: str) -> dict:
    from modelforge_core.hardware.profiles import profile_defaults

    machine = reference_machine(profile)
    machine["profile_defaults"] = profile_defaults(profile, machine["training_device"], machine["torch"]["bf16"])
    return machine


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("task", TASKS)
def test_use_in_finetune_gives_the_tables_estimate(demo_home, demo_models, samples, profile, task):
    """What "Use in Finetune" puts in the form (over the demo's first form) estimates to the table's peak."""
    from ui.finetune_tab import FinetuneTab

    service = HardwareService(demo_home)
    machine = _machine(profile)
    items = service.recommendations(task, machine)
    assert any(item["demo"] for item in items) and any(not item["demo"] for item in items)
    table = recommendations_frame(items)
    for item, shown in zip(items, table["est. peak GB"]):
        form = _first_form(machine, demo_models["causal-lm"], samples)
        carried = carried_form_values(item, machine["profile_defaults"], form["dataset"], samples)
        assert set(carried) <= set(FinetuneTab.CARRIED), set(carried) - set(FinetuneTab.CARRIED)
        form.update(carried)
        estimate = service.estimate(build_config(form), machine)
        assert estimate["peak_gb"] == item["peak_gb"], (profile, item["model_id"], item["settings"])
        assert shown == round(estimate["peak_gb"], 2)


def _item(samples: dict, demo: bool = False, strategy: str = "sft", task: str = "text-generation") -> dict:
    service = HardwareService("/nonexistent")
    item = next(i for i in service.recommendations(task, _machine("cpu")) if not i["demo"])
    settings = {**item["settings"], "strategy": strategy}
    if demo:
        settings.update(DEMO_TRAINING)
    return {**item, "demo": demo, "settings": settings}


def test_use_in_finetune_clears_what_belonged_to_the_demo(samples):
    machine = _machine("cpu")
    item = _item(samples)
    carried = carried_form_values(item, machine["profile_defaults"], samples["sft"], samples)
    for name in DEMO_TRAINING:
        if name != "per_device_train_batch_size":
            assert carried[name] == default_value(name, machine["profile_defaults"]), name
    assert carried["learning_rate"] == 2e-4 and carried["max_steps"] == -1 and carried["lora_dropout"] == 0.05
    assert carried["eval_steps"] == 0 and carried["warmup_ratio"] == 0.0 and carried["save_steps"] == 50
    assert carried["per_device_train_batch_size"] == item["settings"]["per_device_train_batch_size"]
    assert carried["model_name"] == item["model_id"] and carried["task"] == "text-generation"
    assert carried["dataset"] == samples["text-generation"], "the demo task becomes the ordinary (alpaca) sample"


def test_use_in_finetune_picks_the_sample_that_suits_the_model_and_keeps_the_users_data(samples):
    profile_defaults = _machine("cpu")["profile_defaults"]
    assert carried_form_values(_item(samples), profile_defaults, "/data/mine.jsonl", samples)["dataset"] == "/data/mine.jsonl"
    assert carried_form_values(_item(samples, strategy="dpo"), profile_defaults, samples["sft"], samples)["dataset"] == samples["dpo"]
    summary = _item(samples, task="summarization")
    assert carried_form_values(summary, profile_defaults, samples["sft"], samples)["dataset"] == samples["summarization"]
    qa = _item(samples, task="extractive-question-answering")
    assert carried_form_values(qa, profile_defaults, samples["sft"], samples)["dataset"] == samples["extractive-question-answering"]
    demo = carried_form_values(_item(samples, demo=True), profile_defaults, samples["text-generation"], samples)
    assert demo["dataset"] == samples["sft"] and demo["learning_rate"] == DEMO_TRAINING["learning_rate"], "a demo model keeps the demo's run"
    demo_qa = carried_form_values(_item(samples, demo=True, task="extractive-question-answering"), profile_defaults, None, samples)
    assert demo_qa["dataset"] == samples["qa-demo"]
