"""Training jobs end to end on the demo model: train, register, stop, resume, crash, queue."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from jobs_helpers import progress_at_least, run_to_end, wait_for_event, wait_for_status

LONG = {"max_steps": 5000, "save_steps": 1000, "logging_steps": 1, "eval_split": 0.0}


def test_sft_lora_trains_registers_and_saves_a_complete_model_folder(services, make_config):
    training, models, _ = services
    job = training.submit(make_config(max_steps=30, learning_rate=5e-3))
    events = run_to_end(training, job["id"])
    job = training.get_job(job["id"])
    assert job["status"] == "completed", job

    losses = [e["loss"] for e in events if e["type"] == "train"]
    assert losses[-1] < losses[0], losses
    evals = [e for e in events if e["type"] == "eval"]
    assert evals[0]["step"] == 0 and evals[-1]["eval_loss"] < evals[0]["eval_loss"]
    progress = [e for e in events if e["type"] == "progress"]
    assert progress[-1]["step"] == progress[-1]["total_steps"] == 30
    assert all(e["eta_s"] is None for e in progress if e["step"] <= 5), "no time left from the first steps"
    phases = [e["phase"] for e in events if e["type"] == "phase"]
    assert phases == ["loading_model", "preparing_data", "evaluating", "first_step", "training", "evaluating", "saving"], phases
    phase_times = [e["elapsed_s"] for e in events if e["type"] == "phase"]
    assert phase_times == sorted(phase_times) and phase_times[0] > 0, "each phase says when it began in the job"
    assert "Preparing 400 rows" in next(e["message"] for e in events if e.get("phase") == "preparing_data")

    model = models.get_model(job["model_id"])
    assert model["metrics"]["eval_loss"] < model["metrics"]["initial_eval_loss"]
    assert model["metrics"]["perplexity"] > 1
    folder = Path(model["path"])
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "README.md", "modelforge.json"):
        assert (folder / name).is_file(), name
    meta = json.loads((folder / "modelforge.json").read_text())
    assert meta["strategy"] == "sft" and meta["metrics"]["eval_loss"] == model["metrics"]["eval_loss"]

    from safetensors.torch import load_file

    weights = load_file(folder / "adapter_model.safetensors")
    lora_b = [t for name, t in weights.items() if "lora_B" in name]
    assert lora_b and all(t.abs().sum() > 0 for t in lora_b), "LoRA B matrices start at zero and must have been trained"


def test_stop_ends_stopped_within_seconds_and_keeps_a_checkpoint_then_resume_continues(services, make_config):
    training, models, _ = services
    job = training.submit(make_config(**LONG))
    wait_for_event(training, job["id"], progress_at_least(5))
    asked = time.monotonic()
    training.stop(job["id"])
    run_to_end(training, job["id"], timeout=60)
    assert time.monotonic() - asked < 10
    stopped = training.get_job(job["id"])
    assert stopped["status"] == "stopped"
    checkpoints = list((Path(stopped["run_dir"]) / "checkpoints").glob("checkpoint-*"))
    assert checkpoints, "a stopped job keeps a checkpoint"
    saved_step = max(int(p.name.split("-")[1]) for p in checkpoints)
    assert saved_step >= 5
    assert models.list_models() == []

    resumed_at = time.time()
    training.resume(job["id"])
    first_train = wait_for_event(training, job["id"], lambda e: e["type"] == "train" and e["time"] >= resumed_at)
    assert first_train["step"] == saved_step + 1, "training continues from the checkpoint's step, not from 0"
    assert any("Resuming from checkpoint-" in (e.get("message") or "") for e in training.events(job["id"]))
    before = [e["elapsed_s"] for e in training.events(job["id"]) if e["type"] == "progress" and e["time"] < resumed_at]
    after = [e["elapsed_s"] for e in training.events(job["id"]) if e["type"] == "progress" and e["time"] >= resumed_at]
    assert after and after[0] > before[-1], "elapsed time counts over the whole job, not from zero after a resume"
    training.stop(job["id"])
    run_to_end(training, job["id"], timeout=60)
    assert training.get_job(job["id"])["status"] == "stopped"


@pytest.mark.both_databases
def test_killed_worker_ends_interrupted_and_the_service_keeps_working(services, make_config):
    training, _, _ = services
    job = training.submit(make_config(**LONG))
    wait_for_event(training, job["id"], progress_at_least(2))
    pid = training.get_job(job["id"])["pid"]
    os.kill(pid, signal.SIGKILL)
    job = wait_for_status(training, job["id"], ("interrupted",), timeout=30)
    assert "killed by SIGKILL" in job["error_message"] and "no sign of running out of memory" in job["error_message"], job
    assert "out-of-memory killer" not in job["error_message"], "a kill by hand is not called out of memory"
    assert any(e["type"] == "end" and e["status"] == "interrupted" for e in training.events(job["id"]))

    second = training.submit(make_config(max_steps=5))
    run_to_end(training, second["id"])
    assert training.get_job(second["id"])["status"] == "completed"


def test_second_submission_waits_queued_until_the_first_ends(services, make_config):
    training, _, _ = services
    first = training.submit(make_config(**LONG))
    second = training.submit(make_config(max_steps=5))
    assert training.get_job(first["id"])["status"] == "running"
    queued = training.get_job(second["id"])
    assert queued["status"] == "queued" and queued["queue_position"] == 1

    wait_for_event(training, first["id"], progress_at_least(3))
    training.dispatch()
    assert training.get_job(second["id"])["status"] == "queued", "only one job runs at a time"

    training.stop(first["id"])
    run_to_end(training, first["id"], timeout=60)
    events = run_to_end(training, second["id"])
    assert training.get_job(second["id"])["status"] == "completed"
    assert any(e["type"] == "status" and e.get("status") == "starting" for e in events)
    first_done, second_began = training.get_job(first["id"])["finished_at"], training.get_job(second["id"])["started_at"]
    assert second_began >= first_done, "the queued job started only once the first had ended"


@pytest.mark.both_databases
def test_a_queued_job_can_be_stopped_before_it_starts(services, make_config):
    training, _, _ = services
    first = training.submit(make_config(**LONG))
    second = training.submit(make_config(max_steps=5))
    assert training.stop(second["id"])["status"] == "stopped"
    training.stop(first["id"], force=True)
    assert training.get_job(first["id"])["status"] == "stopped"
