"""The queue on a recorded two-GPU machine: jobs side by side, one GPU set each, and waiting while the pool is busy.

The scheduler's choice is checked without GPUs: the workers train on the CPU, and what tells which GPU
each got is its run folder's devices.json and its CUDA_VISIBLE_DEVICES.
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from modelforge_core.exceptions import ConfigurationError
from modelforge_core.schemas import TrainingConfig
from modelforge_core.services.distributed_check import check_distributed, resized_config
from modelforge_core.services.gpu_pool import GpuPool, read_places
from modelforge_core.services.training_service import TrainingService

from jobs_helpers import wait_for_status

# A workstation with two RTX A6000 as HardwareService.detect() reported it (the fields the pool reads, and a few more).
TWO_GPU_MACHINE = {
    "gpus": [
        {"index": 0, "name": "NVIDIA RTX A6000", "memory_total_gb": 47.99, "memory_free_gb": 47.5, "driver": "550.54.15"},
        {"index": 1, "name": "NVIDIA RTX A6000", "memory_total_gb": 47.99, "memory_free_gb": 47.5, "driver": "550.54.15"},
    ],
}


def _config(**fields) -> TrainingConfig:
    return TrainingConfig(model_name="m", dataset="d.jsonl", **fields)


def test_the_pool_gives_free_gpus_in_order_and_waits_when_they_are_held():
    pool = GpuPool.from_machine(TWO_GPU_MACHINE, environ={})
    assert pool.gpus == ("0", "1")
    assert pool.choose(_config(), {}) == ("0",)
    assert pool.choose(_config(), {"0": "a"}) == ("1",)
    assert pool.choose(_config(), {"0": "a", "1": "b"}) is None
    assert pool.choose(_config(num_processes=2), {"1": "b"}) is None, "two GPUs asked, one free: it waits"
    assert pool.choose(_config(num_processes=2), {}) == ("0", "1")
    assert pool.choose(_config(gpu_ids=[1]), {"0": "a"}) == ("1",)
    assert pool.choose(_config(gpu_ids=[0]), {"0": "a"}) is None
    assert pool.environment(("1",)) == {"CUDA_VISIBLE_DEVICES": "1"}
    # the app's own CUDA_VISIBLE_DEVICES bounds the pool
    assert GpuPool.from_machine(TWO_GPU_MACHINE, environ={"CUDA_VISIBLE_DEVICES": "1"}).gpus == ("1",)
    # a machine without GPUs runs one job at a time
    cpu = GpuPool.from_machine({"gpus": []}, environ={})
    assert cpu.choose(_config(num_processes=2), {}) == ("cpu",) and cpu.choose(_config(), {"cpu": "a"}) is None


def test_a_job_resumes_on_another_number_of_processes_where_its_checkpoint_allows_it():
    assert resized_config(_config(num_processes=2), 1).num_processes == 1, "DDP checkpoints are whole"
    named = resized_config(_config(gpu_ids=[0, 1]), 3)
    assert named.num_processes == 3 and named.gpu_ids is None, "the pool picks the GPUs again"
    fsdp = _config(num_processes=2, distributed="fsdp")
    assert resized_config(fsdp, 4).num_processes == 4, "FSDP checkpoints are saved whole (FULL_STATE_DICT)"
    with pytest.raises(ConfigurationError, match="read back by FSDP") as info:
        resized_config(fsdp, 1)
    assert "2 or more" in info.value.hint
    with pytest.raises(ConfigurationError, match="split among the 2 processes that wrote it") as info:
        resized_config(_config(num_processes=2, distributed="deepspeed-zero3"), 4)
    assert "num_processes 2" in info.value.hint
    with pytest.raises(ConfigurationError, match="trains on 2 machines"):
        resized_config(_config(num_machines=2, main_process_ip="10.0.0.2"), 2)


def test_more_processes_or_other_gpus_than_the_machine_has_are_refused_in_words():
    pool = GpuPool.from_machine(TWO_GPU_MACHINE, environ={})
    with pytest.raises(ConfigurationError, match="asks for 4 GPUs and this machine has 2") as info:
        check_distributed(_config(num_processes=4), pool)
    assert "at most 2 processes" in info.value.hint
    with pytest.raises(ConfigurationError, match="GPU 3 is not among this machine's GPUs"):
        check_distributed(_config(gpu_ids=[0, 3]), pool)
    with pytest.raises(ConfigurationError, match="unsloth provider trains on one GPU"):
        check_distributed(_config(num_processes=2, provider="unsloth"), pool)
    with pytest.raises(ConfigurationError, match="needs DeepSpeed, which is not installed") as info:
        check_distributed(_config(num_processes=2, distributed="deepspeed-zero3"), pool)
    assert "requirements-deepspeed.txt" in info.value.hint
    with pytest.raises(ConfigurationError, match="rlhf strategy cannot run with distributed 'fsdp'") as info:
        check_distributed(_config(num_processes=2, distributed="fsdp", strategy="rlhf"), pool)
    assert "ddp or deepspeed-zero2" in info.value.hint
    check_distributed(_config(num_processes=2, distributed="fsdp"), pool)  # what this machine can do passes

    cpu = GpuPool.from_machine({"gpus": []}, environ={})
    with pytest.raises(ConfigurationError, match="needs NVIDIA GPUs") as info:
        check_distributed(_config(num_processes=2, distributed="fsdp"), cpu, cpu_cores=2)
    assert "set distributed to ddp" in info.value.hint
    with pytest.raises(ConfigurationError, match="this machine has 2 CPU cores and no GPU"):
        check_distributed(_config(num_processes=3), cpu, cpu_cores=2)
    with pytest.raises(ConfigurationError, match="names GPUs, and this machine has none"):
        check_distributed(_config(gpu_ids=[0]), cpu, cpu_cores=2)


def _gpus_of(job: dict) -> tuple[list[str], str | None]:
    """(the GPUs the queue recorded for the job, its worker's CUDA_VISIBLE_DEVICES)."""
    places = read_places(Path(job["run_dir"]))["places"]
    return places, psutil.Process(job["pid"]).environ().get("CUDA_VISIBLE_DEVICES")


def test_two_jobs_train_side_by_side_on_two_gpus_and_a_third_waits_for_one(services, make_config):
    _, _, db = services
    training = TrainingService(db, services[0].settings, pool=GpuPool.from_machine(TWO_GPU_MACHINE, environ={}))
    try:
        long_run = make_config(max_steps=2000, save_steps=1000, eval_split=0.1)
        first, second = training.submit(long_run), training.submit(long_run)
        third = training.submit(make_config(max_steps=5))
        first = wait_for_status(training, first["id"], ("running",), timeout=120)
        second = wait_for_status(training, second["id"], ("running",), timeout=120)
        assert _gpus_of(first) == (["0"], "0") and _gpus_of(second) == (["1"], "1")
        assert training.device_holders() == {"0": first["id"], "1": second["id"]}

        training.dispatch()
        assert training.get_job(third["id"])["status"] == "queued", "both GPUs are held: the third job waits"
        waiting = [e["message"] for e in training.events(third["id"]) if e.get("type") == "log"]
        assert any(f"GPU 0 is held by job {first['id']}" in m and f"GPU 1 is held by job {second['id']}" in m for m in waiting)

        training.stop(first["id"], force=True)
        third = wait_for_status(training, third["id"], ("running", "completed"), timeout=120)
        assert read_places(Path(third["run_dir"]))["places"] == ["0"], "the third job takes the GPU the first freed"
        assert training.get_job(second["id"])["status"] == "running"
    finally:
        for job in training.list_jobs(["queued", "running", "stopping"]):
            training.stop(job["id"], force=True)
        training.close()
