"""The memory estimator: against measured peaks, on known models, and the recommendations it checks."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bench.memory_check import CASES, run_case
from modelforge_core.hardware.catalog import CATALOG, known_config
from modelforge_core.hardware.estimator import GB, TrainingPlan, estimate_memory, suggest, verdict
from modelforge_core.hardware.model_shape import model_shape
from modelforge_core.hardware.oom import is_out_of_memory, out_of_memory_error
from modelforge_core.hardware.profiles import PROFILES
from modelforge_core.schemas import TrainingConfig
from modelforge_core.services.hardware_service import HardwareService, given_machine, reference_machine

# The estimate is within this share of the peak measured on the demo models (bench/RESULTS.md).
TOLERANCE = 0.30
TASKS = ("text-generation", "summarization", "extractive-question-answering")


@pytest.mark.parametrize("name,kind,data_kind,fields", CASES, ids=[case[0] for case in CASES])
def test_estimate_is_close_to_the_measured_peak(demo_models, tmp_path, name, kind, data_kind, fields):
    result = run_case(demo_models, tmp_path, kind, data_kind, fields)
    assert abs(result["ratio"] - 1) <= TOLERANCE, (
        f"{name}: estimated {result['estimated_mb']:.1f} MB, measured {result['measured_mb']:.1f} MB"
    )


def qwen_half_b():
    return model_shape(known_config("Qwen/Qwen2.5-0.5B-Instruct"))


def test_model_shape_counts_parameters_from_the_config_alone():
    shape = qwen_half_b()
    assert shape.total_params == 494_032_768, "Qwen2.5-0.5B's published parameter count"
    assert shape.num_layers == 24 and shape.vocab_size == 151936 and shape.gated_mlp
    # LoRA r=16 on every linear layer of the blocks (q k v o gate up down)
    per_layer = 16 * ((896 + 896) + (896 + 128) * 2 + (896 + 896) + (896 + 4864) * 2 + (4864 + 896))
    assert shape.lora_params(16) == 24 * per_layer


def test_the_estimate_moves_the_right_way_with_each_setting():
    shape = qwen_half_b()
    lora = TrainingPlan(strategy="sft", batch_size=4, max_seq_length=512, precision="bf16", device="cuda")
    base = estimate_memory(shape, lora)
    qlora = estimate_memory(shape, replace(lora, strategy="qlora"))
    assert qlora.components["weights"] < base.components["weights"] / 2, "4-bit blocks; the large embedding stays 16-bit"
    assert estimate_memory(shape, replace(lora, gradient_checkpointing=True)).components["activations"] < base.components["activations"] / 3
    assert estimate_memory(shape, replace(lora, batch_size=8)).total > base.total
    full = estimate_memory(shape, replace(lora, full_finetuning=True))
    assert full.components["optimizer"] > 20 * base.components["optimizer"], "every weight vs 1.8% in adapters"
    assert estimate_memory(shape, replace(lora, strategy="dpo")).total > base.total, "chosen and rejected rows"
    rlhf = estimate_memory(shape, replace(lora, strategy="rlhf"))
    assert rlhf.components.get("reward_model") or "stage 1" in rlhf.notes[-1]


def test_changes_that_make_a_run_fit_are_suggested():
    shape = model_shape(known_config("Qwen/Qwen2.5-7B-Instruct"))
    plan = TrainingPlan(strategy="sft", batch_size=4, max_seq_length=2048, precision="bf16", device="cuda")
    budget = 24 * GB
    assert verdict(estimate_memory(shape, plan), budget) == "will_not_fit"
    found = suggest(shape, plan, budget)
    assert any("4-bit" in s["change"] for s in found)
    fitting = [s for s in found if s["verdict"] == "fits"]
    assert fitting, found
    for suggestion in fitting:
        assert estimate_memory(shape, replace(plan, **suggestion["settings"])).total <= 0.85 * budget


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("task", TASKS)
def test_every_recommendation_fits_its_profile(demo_home, profile, task):
    from modelforge_core.hardware.recommendations import recommendation_config

    service = HardwareService(demo_home)  # its demo models are built: they are recommended too
    machine = reference_machine(profile)
    items = service.recommendations(task, machine)
    assert [i["demo"] for i in items].count(True) == 1, "the demo model, trainable offline"
    assert any(not i["demo"] for i in items), f"nothing but the demo recommended for {task} on {profile}"
    for item in items:
        config = recommendation_config(item["model_id"], task, item["settings"], dataset="x.jsonl")
        estimate = service.estimate(config, machine)
        assert estimate["verdict"] == "fits", (profile, item["model_id"], estimate["peak_gb"], machine["training_memory_gb"])
        assert estimate["peak_gb"] == item["peak_gb"], "the settings a recommendation carries are the ones it was estimated with"


def test_recommendations_scale_with_the_machine(tmp_path):
    service = HardwareService(tmp_path)
    sizes = {p: [i["params"] for i in service.recommendations("text-generation", reference_machine(p)) if not i["demo"]] for p in PROFILES}
    assert max(sizes["cpu"]) < 1e9, "a CPU gets small models only"
    assert max(sizes["low_end"]) < 4e9 and max(sizes["mid_range"]) < 8e9
    assert max(sizes["high_end"]) >= 7e9, "16 GB trains a 7-8B model in 4-bit"
    assert max(sizes["cpu"]) <= max(sizes["low_end"]) <= max(sizes["mid_range"]) <= max(sizes["high_end"])


def _gpus_machine(count: int, memory_gb: float = 23.99) -> dict:
    """A recorded workstation with ``count`` RTX 4090s (24 GB each), as detect() reports the fields read here."""
    machine = given_machine("cuda", memory_gb)
    machine["gpus"] = [{"index": i, "name": "NVIDIA GeForce RTX 4090", "memory_total_gb": memory_gb} for i in range(count)]
    machine["torch"] = {**machine["torch"], "cuda_devices": count}
    return machine


def test_recommendations_shard_a_model_too_large_for_one_gpu_over_several(tmp_path):
    from modelforge_core.hardware.recommendations import recommendation_config
    from ui.hardware_tab import recommendations_frame

    service = HardwareService(tmp_path)
    big = "Qwen/Qwen2.5-14B-Instruct"
    one = next(i for i in service.recommendations("text-generation", _gpus_machine(1)) if i["model_id"] == big)
    assert [f["strategy"] for f in one["fits_with"]] == ["qlora"], "on one 24 GB GPU, 14B trains in 4-bit only"

    two = _gpus_machine(2)
    items = service.recommendations("text-generation", two)
    item = next(i for i in items if i["model_id"] == big)
    assert item["strategy"] == "sft" and item["settings"]["num_processes"] == 2 and item["settings"]["distributed"] == "fsdp"
    config = recommendation_config(big, "text-generation", item["settings"], dataset="x.jsonl")
    sharded = service.estimate(config, two)
    assert sharded["verdict"] == "fits" and sharded["peak_gb"] == item["peak_gb"] <= 24
    assert service.estimate(config.model_copy(update={"num_processes": 1}), two)["verdict"] != "fits"
    # a model that fits one GPU keeps one GPU (the others stay free for other jobs)
    small = next(i for i in items if i["model_id"] == "meta-llama/Llama-3.1-8B-Instruct")
    assert "num_processes" not in small["settings"] and small["strategy"] == "sft"
    frame = recommendations_frame(items)
    row = frame[frame["model"].str.contains("14B")].iloc[0]
    assert row["strategy"] == "sft on 2 GPUs (fsdp)" and "qlora 4-bit" in row["also fits with"]


def test_every_catalog_model_builds_for_its_task():
    from modelforge_core.providers.model_classes import check_model_serves_task

    for entry in CATALOG:
        model_class = check_model_serves_task(entry.model_id, entry.config, entry.task)
        assert model_shape(entry.config, model_class).total_params > 50e6, entry.model_id


def test_estimate_of_a_local_model_folder(tmp_path, demo_model):
    config = TrainingConfig(model_name=demo_model, dataset="x.jsonl")
    result = HardwareService(tmp_path).estimate(config)
    assert result["verdict"] == "fits" and 0 < result["tensors_gb"] < 0.5
    assert json.dumps(result)  # plain data for the API and the CLI


def test_out_of_memory_errors_say_what_ran_out_and_what_helps():
    gpu = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 7.63 GiB of which 1.20 GiB is free.")
    cpu = RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried to allocate 4294967296 bytes.")
    assert is_out_of_memory(gpu) and is_out_of_memory(cpu) and not is_out_of_memory(ValueError("bad shape"))
    error = out_of_memory_error(gpu, [{"change": "batch size 1", "peak_gb": 5.1, "verdict": "fits"}])
    assert "GPU 0 memory (7.63 GiB in all, 1.20 GiB free, needing 2.00 GiB more)" in error.message
    assert "batch size 1 (about 5.1 GB)" in error.hint
    assert "RAM (it asked for 4.00 GB more)" in out_of_memory_error(cpu).message


def test_out_of_memory_in_training_fails_the_job_with_what_ran_out(services, make_config, monkeypatch):
    import modelforge_core.training.pipeline as pipeline
    from modelforge_core.worker import run_job

    training, _, db = services
    # recovery off: the first out-of-memory error ends the job (tests/test_oom_recovery.py has the tries)
    job = training.submit(make_config(per_device_train_batch_size=64, max_seq_length=2048, oom_recovery=False))

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 68719476736 bytes. Error code 12")

    monkeypatch.setattr(pipeline, "run_training", out_of_memory)
    assert run_job(job["id"]) == 1
    failed = db.get_job(job["id"])
    assert failed["status"] == "failed" and failed["error_type"] == "HardwareError"
    assert "the RAM (it asked for 64.00 GB more) ran out" in failed["error_message"]
    assert "batch size 32" in failed["error_hint"] and "gradient checkpointing" in failed["error_hint"], failed["error_hint"]


def test_per_device_figures_for_ddp_fsdp_and_zero_match_hand_worked_numbers():
    """Full fine-tuning of Llama-3.1-8B in bf16 (8,030,261,248 parameters, 2 bytes each; AdamW's two states in the
    weights' dtype): worked out by hand from the config's shape."""
    from modelforge_core.hardware.catalog import _config
    from modelforge_core.hardware.estimator import TrainingPlan, estimate_memory
    from modelforge_core.hardware.model_shape import model_shape

    shape = model_shape(_config("meta-llama/Llama-3.1-8B-Instruct"))
    assert (shape.total_params, shape.embedding_params, shape.head_params, shape.num_layers) == (8_030_261_248, 525_336_576, 525_336_576, 32)
    weights = 8_030_261_248 * 2  # 16,060,522,496 bytes
    block = (8_030_261_248 - 2 * 525_336_576) // 32 * 2  # one decoder block's weights, gathered whole: 436,224,256 bytes

    def per_device(method: str, devices: int) -> dict:
        plan = TrainingPlan(full_finetuning=True, device="cuda", precision="bf16", batch_size=1, max_seq_length=512,
                            world_size=devices, distributed=method)
        return estimate_memory(shape, plan).components

    one = per_device("ddp", 1)
    assert (one["weights"], one["gradients"], one["optimizer"]) == (weights, weights, 2 * weights)
    for devices in (2, 8):
        ddp = per_device("ddp", devices)
        assert (ddp["weights"], ddp["gradients"], ddp["optimizer"], ddp["gradient buckets"]) == (weights, weights, 2 * weights, weights)
        for method in ("fsdp", "deepspeed-zero3"):
            sharded = per_device(method, devices)
            assert (sharded["weights"], sharded["gradients"], sharded["optimizer"]) == (
                weights // devices, weights // devices, 2 * weights // devices), (method, devices)
            assert sharded["gathered block"] == block == 436_224_256
            assert sharded["activations"] == one["activations"] and sharded["logits"] == one["logits"], "per device batch"
        zero2 = per_device("deepspeed-zero2", devices)
        assert (zero2["weights"], zero2["gradients"], zero2["optimizer"]) == (weights, weights // devices, 2 * weights // devices)
    eight = per_device("fsdp", 8)
    assert (eight["weights"], eight["optimizer"]) == (2_007_565_312, 4_015_130_624)
