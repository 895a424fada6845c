"""The GPU path (marker ``gpu``; skipped without CUDA): 4-bit QLoRA with bf16 compute, LoRA in bf16, DPO."""

from __future__ import annotations

import pytest

from modelforge_core.packages import is_unsloth_available

from jobs_helpers import run_to_end

pytestmark = pytest.mark.gpu


def _train(services, config: dict) -> tuple[dict, list[dict]]:
    training, models, _ = services
    job = training.submit(config)
    events = run_to_end(training, job["id"], timeout=600)
    job = training.get_job(job["id"])
    assert job["status"] == "completed", (job, [e for e in events if e["type"] in ("log", "end")])
    return models.get_model(job["model_id"]), events


def _messages(events: list[dict]) -> str:
    return " ".join(e.get("message", "") for e in events if e["type"] in ("log", "status"))


def test_qlora_4bit_with_bf16_compute_trains_on_the_gpu(services, make_config):
    import torch

    model, events = _train(services, make_config(strategy="qlora", bf16=True, learning_rate=3e-3, max_steps=40, eval_steps=40))
    assert model["metrics"]["eval_loss"] < model["metrics"]["initial_eval_loss"], model["metrics"]
    text = _messages(events)
    assert "4-bit nf4" in text and "4-bit on the CPU" not in text and "No GPU found" not in text
    assert torch.cuda.is_bf16_supported()


def test_lora_in_bf16_on_the_gpu_learns_the_demo_task(services, make_config):
    from modelforge_core.demo import DEMO_TRAINING

    model, events = _train(services, make_config(**{**DEMO_TRAINING, "bf16": True, "eval_steps": 300, "save_steps": 1000}))
    assert model["metrics"]["eval_loss"] < 0.3 * model["metrics"]["initial_eval_loss"], model["metrics"]
    assert "No GPU found" not in _messages(events)


def test_dpo_on_the_gpu(services, make_config, samples):
    model, _ = _train(services, make_config(
        strategy="dpo", dataset=samples["dpo"], bf16=True, learning_rate=3e-3, max_steps=40, eval_steps=40, lora_dropout=0.0,
    ))
    assert model["metrics"]["reward_margin"] > 0, model["metrics"]


def test_qlora_seq2seq_summarization_on_the_gpu(services, make_config, samples, demo_models):
    model, _ = _train(services, make_config(
        task="summarization", strategy="qlora", model_name=demo_models["seq2seq"], dataset=samples["summarization"],
        bf16=True, learning_rate=3e-3, max_steps=30, eval_steps=30, eval_generation_samples=4,
    ))
    assert model["metrics"]["eval_loss"] < model["metrics"]["initial_eval_loss"]


@pytest.mark.parametrize("index", [1, 3], ids=["qwen-0.5b-lora-bf16", "qwen-1.5b-qlora"])
def test_estimate_matches_the_gpu_peak_of_a_real_size_model(tmp_path, index):
    """Qwen2.5 of real size (random weights from its config): estimate within ±30% of max_memory_allocated."""
    from bench.memory_check import REAL_SIZE_CASES, build_real_size, run_case

    name, model_id, fields = REAL_SIZE_CASES[index]
    result = run_case({"real": build_real_size(model_id, tmp_path)}, tmp_path, "real", "text", fields)
    print(f"| {name} | {result['measured_mb']:.1f} | {result['estimated_mb']:.1f} | {result['ratio']:.2f} |")
    assert abs(result["ratio"] - 1) <= 0.30, result


# -- Unsloth (also skipped where unsloth is not installed) ---------------------------------------

needs_unsloth = pytest.mark.skipif(not is_unsloth_available(), reason="unsloth is not installed")


@pytest.fixture(scope="module")
def smollm(tmp_path_factory) -> str:
    """SmolLM2-135M of real size (a Llama, which Unsloth's fast path covers), random weights."""
    from bench.memory_check import build_real_size

    return build_real_size("HuggingFaceTB/SmolLM2-135M-Instruct", tmp_path_factory.mktemp("smollm"))


@needs_unsloth
@pytest.mark.parametrize("strategy", ["sft", "qlora"], ids=["lora", "qlora"])
def test_unsloth_trains_sft_steps(services, make_config, smollm, strategy):
    model, events = _train(services, make_config(
        provider="unsloth", strategy=strategy, model_name=smollm, bf16=True, learning_rate=3e-3, max_steps=20,
        eval_steps=20, lora_dropout=0.0, max_seq_length=256,
    ))
    assert model["provider"] == "unsloth"
    assert model["metrics"]["eval_loss"] < model["metrics"]["initial_eval_loss"], model["metrics"]
    text = _messages(events)
    assert "with the unsloth provider" in text
    if strategy == "qlora":
        assert "4-bit nf4" in text


@needs_unsloth
def test_unsloth_dpo_step(services, make_config, samples, smollm):
    model, _ = _train(services, make_config(
        provider="unsloth", strategy="dpo", model_name=smollm, dataset=samples["dpo"], bf16=True, learning_rate=1e-3,
        max_steps=2, eval_steps=2, lora_dropout=0.0, max_seq_length=256,
    ))
    assert model["provider"] == "unsloth"
    assert "reward_margin" in model["metrics"], model["metrics"]


def test_the_studios_worker_trains_through_accelerate_launch_on_the_gpus(services, make_config):
    """A real run through ``accelerate launch`` on the GPUs there are (up to 2; one is enough): the studio's generated
    accelerate config, its worker on each GPU, one model registered. Its worker.log is printed (pytest -rA)."""
    import os
    import subprocess
    from pathlib import Path

    import torch

    from modelforge_core.schemas import TrainingConfig
    from modelforge_core.training.launch import accelerate_command, worker_environment

    training, models, db = services
    gpus = min(torch.cuda.device_count(), 2)
    config = TrainingConfig.model_validate(make_config(num_processes=gpus, bf16=True, max_steps=30, eval_steps=30))
    run_dir = training.settings.runs_dir / "accelerate-gpu"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(config.model_dump_json(), encoding="utf-8")
    job = db.create_job(job_id="acceleragpu1", config=config.to_json_dict(), run_dir=str(run_dir), status="running")
    command = accelerate_command(job["id"], config, run_dir, has_cuda=True)
    environment = {**os.environ, **worker_environment(config, True), "MODELFORGE_HOME": str(training.settings.home)}
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600, check=False)
    print(Path(run_dir / "accelerate_config.yaml").read_text(), done.stdout[-4000:], done.stderr[-4000:], sep="\n")
    job = db.get_job(job["id"])
    assert done.returncode == 0 and job["status"] == "completed", job
    model = models.get_model(job["model_id"])
    assert model["metrics"]["eval_loss"] < model["metrics"]["initial_eval_loss"], model["metrics"]
