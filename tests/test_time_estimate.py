"""The time estimate: the run's work by hand-worked numbers, the speed fitted to earlier runs, and the services."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from modelforge_core.hardware.time_estimate import (
    MachineSpeed,
    duration_words,
    forward_flops,
    padded_length,
    run_work,
    time_estimate,
)
from modelforge_core.schemas import TrainingConfig

# A small decoder: 2 layers, hidden 64, vocabulary 100; its linear layers hold 50,000 weights.
SHAPE = SimpleNamespace(linear_params=50_000, vocab_size=100, hidden_size=64, num_layers=2)


def _config(**fields) -> TrainingConfig:
    return TrainingConfig(model_name="m", dataset="d.jsonl", **{"per_device_train_batch_size": 4, "max_steps": 10,
                                                               "gradient_accumulation_steps": 1, **fields})


def test_the_work_of_a_run_by_hand():
    # forward: 2 x (50,000 + 100 x 64) FLOPs per token, plus attention 2 x 2 layers x 32 tokens x 64
    assert forward_flops(SHAPE, 1, 32) == 2 * 56_400 + 2 * 2 * 32 * 64
    lengths = [32] * 10  # every row 32 tokens: no padding either way
    lora = run_work(SHAPE, _config(), lengths, 100, [], 0)
    assert lora.steps == 10 and lora.tokens_per_step == 4 * 32 and lora.train_calls == 10
    per_step_forward = forward_flops(SHAPE, 4 * 32, 32)
    assert lora.train_flops == pytest.approx(10 * per_step_forward * 2), "LoRA: forward and one backward"
    full = run_work(SHAPE, _config(finetuning_type="full"), lengths, 100, [], 0)
    assert full.train_flops == pytest.approx(10 * per_step_forward * 3), "full: the backward is twice the forward"
    checkpointed = run_work(SHAPE, _config(gradient_checkpointing=True), lengths, 100, [], 0)
    assert checkpointed.train_flops == pytest.approx(10 * per_step_forward * 3), "one more forward"
    dpo = run_work(SHAPE, _config(strategy="dpo"), lengths, 100, [], 0)
    assert dpo.tokens_per_step == 2 * 4 * 32, "two sequences a pair"
    assert dpo.train_flops == pytest.approx(10 * forward_flops(SHAPE, 2 * 4 * 32, 32) * 3), "and the reference's forward"
    assert dpo.train_calls == 20
    # from epochs: 100 rows, 4 a step -> 25 steps an epoch; evaluations at step 0, every 10 steps and at the end
    epochs = run_work(SHAPE, _config(max_steps=-1, num_train_epochs=2, eval_steps=10), lengths, 100, [32] * 5, 20)
    assert epochs.steps == 50 and epochs.evaluations == 1 + 5
    assert epochs.eval_flops == pytest.approx(6 * forward_flops(SHAPE, 20 * 32, 32))
    # padding: a batch computes on its longest row, unless the rows are packed or padding-free
    assert padded_length([10, 10, 10, 100], 1, False) == 32.5
    assert padded_length([10, 10, 10, 100], 4, False) > 60
    assert padded_length([10, 10, 10, 100], 4, True) == 32.5


def test_the_speed_fitted_to_earlier_runs_predicts_a_new_one():
    truth = MachineSpeed("cpu", overhead_s=0.02, flops_per_s=4e9, setup_s=10.0, basis="truth")
    records = []
    for calls, flops in ((100, 1e10), (400, 2e9), (50, 8e10)):
        records.append({"train_calls": calls, "train_flops": flops, "train_s": truth.seconds(calls, flops),
                        "eval_calls": 0, "eval_flops": 0, "eval_s": 0, "setup_s": 10.0})
    prior = MachineSpeed.prior("cpu", probe_flops_per_s=1e9)  # a prior four times too slow
    fitted = MachineSpeed.fitted(prior, records)
    assert fitted.basis == "3 earlier runs on this machine" and fitted.setup_s == 10.0
    new = (250, 3e10)
    assert fitted.seconds(*new) == pytest.approx(truth.seconds(*new), rel=0.05)
    assert abs(prior.seconds(*new) / truth.seconds(*new) - 1) > 0.5, "the prior alone was far off"
    assert MachineSpeed.fitted(prior, []) is prior

    work = run_work(SHAPE, _config(), [32] * 10, 100, [32] * 4, 8)
    estimate = time_estimate(work, fitted)
    assert estimate["total_s"] == pytest.approx(estimate["setup_s"] + estimate["train_s"] + estimate["eval_s"], abs=0.2)
    assert estimate["per_step_s"] * 10 == pytest.approx(estimate["train_s"], abs=0.06)
    assert [duration_words(s) for s in (0.05, 12.3, 185, 7320)] == ["50 ms", "12 s", "3 min 5 s", "2 h 2 min"]


def test_the_estimate_before_start_reads_the_data_and_the_records(demo_model, samples, tmp_path, monkeypatch):
    from modelforge_core.hardware.run_timing import RunTiming
    from modelforge_core.services.hardware_service import HardwareService
    from ui.memory_estimate import time_markdown

    monkeypatch.setenv("MODELFORGE_HOME", str(tmp_path))
    service = HardwareService(tmp_path)
    config = TrainingConfig(model_name=demo_model, dataset=samples["sft"], max_steps=30, eval_steps=10, eval_split=0.2)
    first = service.estimate_time(config)
    assert first["steps"] == 30 and first["evaluations"] == 4 and first["basis"].startswith("a matmul probe")
    assert 0 < first["per_step_s"] < first["total_s"]
    assert (tmp_path / "timing" / "probe.json").is_file(), "the probe is remembered"
    # a recorded run ten times slower than the prior thinks: the next estimate follows it
    work = first["work"]
    RunTiming(tmp_path).add({"device": "cpu", "train_calls": work["train_calls"], "train_flops": work["train_flops"],
                             "train_s": first["train_s"] * 10, "eval_calls": work["eval_calls"],
                             "eval_flops": work["eval_flops"], "eval_s": first["eval_s"] * 10, "setup_s": 30.0})
    second = service.estimate_time(config)
    assert second["basis"] == "1 earlier run on this machine" and second["setup_s"] == 30.0
    assert second["train_s"] > 5 * first["train_s"]
    text = time_markdown(second)
    assert text.startswith("**Time estimate: about ") and "per step x 30 steps" in text and "1 earlier run" in text
    json.dumps(second)  # the API answers it as JSON


def test_the_http_estimate_has_the_time_when_the_config_names_its_data(demo_model, samples, tmp_path, monkeypatch):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.routers import api_routes

    monkeypatch.setenv("MODELFORGE_HOME", str(tmp_path))
    client = TestClient(FastAPI(routes=api_routes()))
    body = {"model_name": demo_model, "max_steps": 12, "eval_split": 0.2}
    assert "time" not in client.post("/api/hardware/estimate", json=body).json(), "no data, memory only"
    answer = client.post("/api/hardware/estimate", json={**body, "dataset": samples["sft"]}).json()
    assert answer["verdict"] == "fits" and answer["time"]["steps"] == 12 and answer["time"]["total_s"] > 0


def test_the_setup_grows_with_the_weights_a_run_loads():
    records = [{"train_calls": 10, "train_flops": 1e9, "train_s": 1.0, "eval_calls": 0, "eval_flops": 0, "eval_s": 0,
                "setup_s": setup, "params": params} for params, setup in ((1_000_000, 12.0), (500_000_000, 22.0))]
    fitted = MachineSpeed.fitted(MachineSpeed.prior("cpu", 1e11), records)
    assert fitted.setup_seconds(1_000_000) == pytest.approx(12.0, abs=0.05)
    assert fitted.setup_seconds(250_000_000) == pytest.approx(17.0, abs=0.1), "a line through the two"
    # one size only: its median, and the prior's seconds per weight
    alone = MachineSpeed.fitted(MachineSpeed.prior("cpu", 1e11), records[:1])
    assert alone.setup_seconds(1_000_000) == pytest.approx(12.0, abs=0.05)
    assert alone.setup_seconds(1_001_000_000) == pytest.approx(12.0 + 12.0, abs=0.1)
