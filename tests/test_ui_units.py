"""The Finetune tab's pieces without a browser: form -> config, and events -> what the page shows."""

from __future__ import annotations

import json

from ui.finetune_form import build_config, render_config, values_to_config_dict
from ui.job_view import JobView


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
