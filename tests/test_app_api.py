"""The app's HTTP API and its named Gradio endpoints train the demo model without a browser."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from app_server import AppServer, wait_status


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    server = AppServer(tmp_path_factory.mktemp("app") / "home")
    yield server
    server.stop()


def _config(app: AppServer, samples: dict, **overrides) -> dict:
    return {
        "task": "text-generation", "model_name": app.demo_model(), "provider": "huggingface", "strategy": "sft",
        "dataset": samples["sft"], "eval_split": 0.2, "num_train_epochs": 1, "lora_r": 8, "lora_alpha": 16,
        "max_steps": 20, "logging_steps": 5, **overrides,
    }


def test_health_and_info(app):
    assert httpx.get(app.url + "/api/health").json()["status"] == "ok"
    info = httpx.get(app.url + "/api/info").json()
    assert "sft" in info["strategies"] and "huggingface" in info["providers"] and "text-generation" in info["tasks"]


def test_hardware_estimate_and_recommendations_over_http(app, samples):
    hardware = httpx.get(app.url + "/api/hardware", timeout=30).json()
    assert hardware["compute_profile"] == "cpu" and "profile_defaults" in hardware
    estimate = httpx.post(
        app.url + "/api/hardware/estimate", json={"model_name": "Qwen/Qwen2.5-7B-Instruct", "per_device_train_batch_size": 64}, timeout=60
    ).json()  # a recommended model: its config ships with ModelForge, so this works offline
    assert estimate.get("verdict") == "will_not_fit" and estimate["suggestions"], estimate
    assert set(estimate["components_gb"]) >= {"weights", "adapter", "gradients", "optimizer", "activations"}
    items = httpx.get(app.url + "/api/hardware/recommendations", params={"task": "summarization"}, timeout=60).json()
    assert items and all(item["task"] == "summarization" and item["peak_gb"] > 0 for item in items)
    wrong = httpx.get(app.url + "/api/hardware/recommendations", params={"task": "poetry"}, timeout=30)
    assert wrong.status_code == 422 and "Unknown task" in wrong.json()["message"]


def test_the_dataset_check_over_http(app, samples):
    report = httpx.post(app.url + "/api/finetune/check_dataset", json=_config(app, samples, max_seq_length=22), timeout=120).json()
    assert report["ok"] and report["shape"] == "alpaca" and report["source"] == "demo_task.jsonl", report
    train = report["splits"]["train"]
    assert train["rows"] == 320 and train["truncated"] > 0 and sum(b["rows"] for b in train["histogram"]) == 320
    assert [run["kind"] for run in report["examples"][0]["segments"]] == ["context", "trained", "cut"]
    refused = httpx.post(app.url + "/api/finetune/check_dataset", json=_config(app, samples, strategy="dpo"), timeout=120).json()
    assert refused["ok"] is False and "cannot train strategy 'dpo'" in refused["message"]
    missing = httpx.post(app.url + "/api/finetune/check_dataset", json={"dataset": samples["sft"]}, timeout=30)
    assert missing.status_code == 422 and "model_name" in missing.json()["message"]


def test_http_start_training_then_status_until_completed(app, samples):
    config = _config(app, samples)
    response = httpx.post(app.url + "/api/finetune/start_training", json=config, timeout=60)
    assert response.status_code == 200, response.text
    job_id = response.json()["job_id"]
    early = httpx.get(f"{app.url}/api/finetune/status/{job_id}").json()
    assert early["base_model"] == config["model_name"], "the status names the base model as such"
    if early["status"] != "completed":
        assert early["model_id"] is None and early["model_name"] is None, "no registered model yet"
    status = wait_status(app.url, job_id, ("completed", "failed", "stopped", "interrupted"))
    assert status["status"] == "completed", status
    assert status["current_step"] == status["total_steps"] == 20
    models = httpx.get(app.url + "/api/models").json()
    model = next(m for m in models if m["id"] == status["model_id"])
    assert status["model_name"] == model["name"] and status["base_model"] == config["model_name"]
    listed = next(j for j in httpx.get(app.url + "/api/finetune/jobs").json() if j["job_id"] == job_id)
    assert listed["model_name"] == model["name"] and listed["base_model"] == config["model_name"]
    assert model["metrics"]["eval_loss"] < model["metrics"]["initial_eval_loss"]
    events = httpx.get(f"{app.url}/api/finetune/events/{job_id}").json()
    assert any(e["type"] == "end" and e["status"] == "completed" for e in events)


def test_http_errors_are_json_with_status_codes(app, samples):
    bad = httpx.post(app.url + "/api/finetune/start_training", json=_config(app, samples, learning_rate=-1), timeout=30)
    assert bad.status_code == 422
    assert bad.json()["error"] == "ConfigurationError" and "learning_rate" in bad.json()["message"]
    missing = httpx.post(app.url + "/api/finetune/start_training", json=_config(app, samples, dataset="/nope.jsonl"), timeout=30)
    assert missing.status_code == 422 and missing.json()["error"] == "DatasetValidationError"
    unknown = httpx.get(app.url + "/api/finetune/status/nosuchjob")
    assert unknown.status_code == 404 and unknown.json()["error"] == "NotFoundError"
    stop_unknown = httpx.post(app.url + "/api/finetune/stop/nosuchjob")
    assert stop_unknown.status_code == 404


def test_http_stop_a_running_job(app, samples):
    config = _config(app, samples, max_steps=5000, save_steps=1000, eval_split=0)
    job_id = httpx.post(app.url + "/api/finetune/start_training", json=config, timeout=60).json()["job_id"]
    wait_status(app.url, job_id, ("running",))
    deadline = time.monotonic() + 60
    while httpx.get(f"{app.url}/api/finetune/status/{job_id}").json()["current_step"] < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert httpx.post(f"{app.url}/api/finetune/stop/{job_id}").json()["status"] in ("stopping", "stopped")
    assert wait_status(app.url, job_id, ("stopped", "completed", "failed", "interrupted"), timeout=60)["status"] == "stopped"


def test_gradio_client_trains_the_demo_model(app, samples):
    from gradio_client import Client

    client = Client(app.url, verbose=False)
    status = client.predict(json.dumps(_config(app, samples)), api_name="/submit_config")
    job_id = status["job_id"]
    deadline = time.monotonic() + 180
    while status["status"] not in ("completed", "failed", "stopped", "interrupted") and time.monotonic() < deadline:
        time.sleep(0.5)
        status = client.predict(job_id, api_name="/job_status")
    assert status["status"] == "completed", status
    registered = next(m for m in client.predict(api_name="/list_models") if m["id"] == status["model_id"])
    assert status["model_name"] == registered["name"] and status["base_model"] == app.demo_model()


def test_gradio_client_gets_the_error_in_words(app, samples):
    from gradio_client import Client

    client = Client(app.url, verbose=False)
    with pytest.raises(Exception, match="DatasetValidationError"):
        client.predict(json.dumps(_config(app, samples, dataset="/nope.jsonl")), api_name="/submit_config")


def test_model_routes_generate_get_push_offline_and_delete(app, samples):
    job_id = httpx.post(app.url + "/api/finetune/start_training", json=_config(app, samples), timeout=60).json()["job_id"]
    model_id = wait_status(app.url, job_id, ("completed",))["model_id"]
    assert httpx.get(f"{app.url}/api/models/{model_id}").json()["id"] == model_id
    generated = httpx.post(app.url + "/api/playground/generate", json={"model_id": model_id, "prompt": "Spell the last digit of the number.\n\n42", "max_new_tokens": 4}, timeout=120)
    assert generated.status_code == 200 and isinstance(generated.json()["text"], str)
    too_long = httpx.post(app.url + "/api/playground/generate", json={"model_id": model_id, "prompt": "x", "max_new_tokens": 100000})
    assert too_long.status_code == 422
    push = httpx.post(app.url + "/api/hub/push", json={"model_id": model_id, "repo_id": "me/model", "token": "hf_x"}, timeout=30)
    assert push.status_code == 404 and "offline" in push.json()["message"]
    folder = app.home / "exports" / "over-http"
    exported = httpx.post(f"{app.url}/api/models/{model_id}/export", json={"format": "gguf", "type": "q8_0", "ollama": True,
                                                                          "folder": str(folder)}, timeout=300)
    assert exported.status_code == 200, exported.text
    body = exported.json()
    assert body["path"] == str(folder) and "Modelfile" in body["files"] and "parity_report.json" in body["files"]
    assert {check["name"] for check in body["report"]["checks"]} >= {"GGUF answers = merged", "end token", "Modelfile template"}
    assert httpx.get(f"{app.url}/api/models/{model_id}/exports").json()[-1]["path"] == str(folder)
    again = httpx.post(f"{app.url}/api/models/{model_id}/export", json={"format": "gguf", "folder": str(folder)}, timeout=60)
    assert again.status_code == 422 and "is not empty" in again.json()["message"], again.text
    bad_type = httpx.post(f"{app.url}/api/models/{model_id}/export", json={"format": "gguf", "type": "q5_k"}, timeout=60)
    assert bad_type.status_code == 422
    assert httpx.delete(f"{app.url}/api/models/{model_id}").status_code == 200
    assert httpx.get(f"{app.url}/api/models/{model_id}").status_code == 404
