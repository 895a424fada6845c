"""The GPU path (marker ``gpu``; skipped without CUDA): 4-bit QLoRA with bf16 compute, LoRA in bf16, DPO, the fast
path (the variable-length attention kernel, the GPU fill, Liger Kernel), Unsloth, accelerate launch."""

from __future__ import annotations

import os

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
    row = f"| {name} | {result['measured_mb']:.1f} | {result['estimated_mb']:.1f} | {result['ratio']:.2f} |"
    print(row)
    if os.environ.get("MODELFORGE_GPU_RESULTS"):  # bench/gpu_check.sh collects the rows (pytest-xdist keeps prints)
        with open(os.environ["MODELFORGE_GPU_RESULTS"], "a", encoding="utf-8") as out:
            out.write(row + "\n")
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


# -- the fast path: the variable-length kernel, the GPU fill, Liger Kernel ------------------------


def test_the_varlen_kernel_matches_each_row_apart_forward_and_backward():
    """PyTorch's variable-length flash kernel (grouped heads, bf16) against SDPA row by row in float32."""
    import torch

    from modelforge_core.providers.varlen_attention import flash_attn_varlen_func, reference_varlen, varlen_problem

    assert varlen_problem() is None
    torch.manual_seed(0)
    cu = torch.tensor([0, 100, 357, 512], dtype=torch.int32, device="cuda")
    q = torch.randn(512, 8, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(512, 2, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(512, 2, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    out = flash_attn_varlen_func(q, k, v, cu, cu, 257, 257, causal=True, softmax_scale=0.125)
    grads = torch.autograd.grad(out.float().square().sum(), (q, k, v))
    q32, k32, v32 = (t.detach().float().requires_grad_() for t in (q, k, v))
    expected = reference_varlen(q32, k32, v32, cu, cu, scale=0.125, causal=True)
    expected_grads = torch.autograd.grad(expected.square().sum(), (q32, k32, v32))
    assert (out.float() - expected).abs().max().item() < 3e-2
    for got, want in zip(grads, expected_grads):
        assert (got.float() - want).abs().max().item() < 0.05 * want.abs().max().item() + 1e-2


def test_the_fast_path_trains_with_varlen_attention_the_gpu_fill_and_liger(services, make_config):
    import importlib.util

    model, events = _train(services, make_config(
        bf16=True, per_device_train_batch_size=2, gradient_accumulation_steps=4, gradient_checkpointing=True,
        learning_rate=3e-3, max_steps=30, eval_steps=30,
    ))
    assert model["metrics"]["eval_loss"] < model["metrics"]["initial_eval_loss"], model["metrics"]
    text = _messages(events)
    assert "Attention: varlen" in text and "Padding-free batches: on" in text, text
    assert "GPU fill: micro-batch 2 x 4 accumulation steps -> 8 x 1" in text and "gradient checkpointing off" in text, text
    if importlib.util.find_spec("liger_kernel"):
        assert "Liger kernels: on" in text, text


@pytest.mark.skipif(not __import__("importlib").util.find_spec("liger_kernel"), reason="liger-kernel is not installed")
def test_liger_kernels_give_the_same_loss(smollm):
    """A Llama of real width (SmolLM2-135M, random weights): the loss and its gradient with and without Liger's kernels."""
    import torch
    from liger_kernel.transformers import _apply_liger_kernel_to_instance
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(smollm, dtype=torch.bfloat16).cuda()
    torch.manual_seed(0)
    ids = torch.randint(0, 2000, (2, 256), device="cuda")

    def loss_and_grad():
        model.zero_grad()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        return loss.item(), model.model.layers[0].mlp.down_proj.weight.grad.float().norm().item()

    plain = loss_and_grad()
    _apply_liger_kernel_to_instance(model=model)
    fused = loss_and_grad()
    assert abs(fused[0] - plain[0]) <= 0.01 * plain[0], (plain, fused)
    assert abs(fused[1] - plain[1]) <= 0.05 * plain[1], (plain, fused)
