"""One job on two processes, on the CPU: accelerate launches the studio's own worker twice, gloo joins them.

Measured on the 2-core dev machine: the two-process demo run takes about 60 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from modelforge_core.cli_machines import join_commands
from modelforge_core.training.launch import ACCELERATE_CONFIG_NAME, free_port
from modelforge_core.training.row_record import RECORD_ROWS_ENV, read_train_rows

from jobs_helpers import progress_at_least, run_to_end, wait_for_event, wait_for_status

pytestmark = pytest.mark.timeout(900)


def _two_process_config(make_config, **overrides) -> dict:
    config = make_config(num_processes=2, max_steps=-1, num_train_epochs=1, per_device_train_batch_size=4,
                         logging_steps=2, save_steps=1000, eval_steps=None, learning_rate=1e-3)
    config.update(overrides)
    return config


def test_two_processes_train_one_model_each_on_half_the_rows(services, make_config, monkeypatch):
    training, models, _ = services
    monkeypatch.setenv(RECORD_ROWS_ENV, "1")
    job = training.submit(_two_process_config(make_config))
    events = run_to_end(training, job["id"], timeout=600)
    job = training.get_job(job["id"])
    assert job["status"] == "completed", (job, Path(job["run_dir"], "worker.log").read_text()[-3000:])
    run_dir = Path(job["run_dir"])

    launch = (run_dir / ACCELERATE_CONFIG_NAME).read_text()
    assert "num_processes: 2" in launch and "distributed_type: MULTI_GPU" in launch
    messages = [e.get("message", "") for e in events]
    assert any("Training on 2 processes (ddp)" in m for m in messages)

    # each process trained on its own rows: disjoint halves that together are the training set
    rank0, rank1 = read_train_rows(run_dir / "train_rows.rank0.jsonl"), read_train_rows(run_dir / "train_rows.rank1.jsonl")
    assert None not in rank0 + rank1
    assert len(rank0) == len(rank1) > 0
    assert not set(rank0) & set(rank1), "the two processes saw the same rows"
    steps = json.loads((Path(models.get_model(job["model_id"])["path"]) / "modelforge.json").read_text())["metrics"]["steps"]
    assert len(rank0) == steps * 4, "each process collated its own 4 rows per step"
    prepared_rows = len(set(rank0) | set(rank1))
    assert prepared_rows >= 0.95 * 2 * len(rank0), "the halves together cover the epoch"

    # events from the main process only: one start, steps that never go back, one train event per logged step
    assert sum(1 for e in events if e.get("type") == "status" and e.get("status") == "running") == 1
    progress = [e["step"] for e in events if e.get("type") == "progress"]
    assert progress == sorted(progress)
    train_steps = [e["step"] for e in events if e.get("type") == "train"]
    assert len(train_steps) == len(set(train_steps))

    # the loss falls, and exactly one model is registered
    metrics = models.get_model(job["model_id"])["metrics"]
    assert metrics["eval_loss"] < metrics["initial_eval_loss"], metrics
    assert len(models.list_models()) == 1
    assert not list(Path(training.settings.models_dir).glob("*.partial"))


def test_stop_ends_both_processes_with_a_checkpoint_that_resumes(services, make_config):
    training, models, _ = services
    config = _two_process_config(make_config, max_steps=150, num_train_epochs=20, save_steps=1000, eval_split=0.1)
    job = training.submit(config)
    wait_for_event(training, job["id"], progress_at_least(3), timeout=600)
    running = training.get_job(job["id"])
    launcher = psutil.Process(running["pid"])
    workers = [child for child in launcher.children(recursive=True) if "modelforge_core.worker" in " ".join(child.cmdline())]
    assert len(workers) == 2, [child.cmdline() for child in launcher.children(recursive=True)]

    training.stop(job["id"])
    stopped = wait_for_status(training, job["id"], ("stopped", "failed", "interrupted"), timeout=300)
    assert stopped["status"] == "stopped", (stopped, Path(stopped["run_dir"], "worker.log").read_text()[-3000:])
    _, alive = psutil.wait_procs(workers + [launcher], timeout=180)  # the job is recorded stopped as they exit
    assert not alive, f"still running after the stop: {[p.cmdline() for p in alive]}"
    stopped_at = training.get_job(job["id"])["current_step"]
    # DDP's checkpoint is whole: it resumes on another number of processes (here one, the quicker test)
    checkpoint = training.resume(job["id"], num_processes=1)
    assert checkpoint["status"] in ("queued", "running") and checkpoint["config"]["num_processes"] == 1
    resumed_events = run_to_end(training, job["id"], timeout=600)
    job = training.get_job(job["id"])
    assert job["status"] == "completed", (job, Path(job["run_dir"], "worker.log").read_text()[-3000:])
    start = next(i for i, e in enumerate(resumed_events) if e.get("message", "").startswith("Resuming from checkpoint-"))
    assert resumed_events[start]["message"].endswith(" on 1 process"), resumed_events[start]
    after = resumed_events[start:]
    assert not any("Training on 2 processes" in e.get("message", "") for e in after)
    progress = [e["step"] for e in after if e.get("type") == "progress"]
    assert progress and progress[-1] == 150 and min(progress) >= stopped_at - 1, "it went on from the checkpoint"
    assert len(models.list_models()) == 1


def test_two_machines_on_one_host_train_one_job_machine_0_records_it(services, make_config, monkeypatch):
    """Machine 0 is the queue's job; machine 1 joins with the command machine 0 prints (both on localhost here)."""
    training, models, _ = services
    monkeypatch.setenv(RECORD_ROWS_ENV, "1")
    config = _two_process_config(make_config, num_processes=1, num_machines=2, main_process_ip="127.0.0.1",
                                 main_process_port=free_port())
    job = training.submit(config)
    command = join_commands(job)
    assert command == [f"python -m modelforge_core train --job {job['id']} --machine-rank 1"]
    machine_1 = subprocess.Popen([sys.executable, *command[0].split()[1:]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, env=dict(os.environ))
    try:
        run_to_end(training, job["id"], timeout=600)
        output, _ = machine_1.communicate(timeout=300)
    finally:
        machine_1.kill()
    job = training.get_job(job["id"])
    assert job["status"] == "completed", (job, Path(job["run_dir"], "worker.log").read_text()[-3000:], output[-3000:])
    assert machine_1.returncode == 0, output[-3000:]
    assert f"Machine 1 of 2: joining job {job['id']} at 127.0.0.1" in output
    run_dir = Path(job["run_dir"])
    rank0, rank1 = read_train_rows(run_dir / "train_rows.rank0.jsonl"), read_train_rows(run_dir / "train_rows.rank1.jsonl")
    assert rank0 and rank1 and not set(rank0) & set(rank1)
    assert len(models.list_models()) == 1
    assert sorted(p.name for p in Path(training.settings.models_dir).iterdir()) == [job["id"]], "machine 1 left nothing"


@pytest.mark.parametrize("method, kind", [("ddp", "MULTI_GPU"), ("fsdp", "FSDP"), ("deepspeed-zero3", "DEEPSPEED")])
def test_the_generated_accelerate_config_is_what_accelerate_reads(tmp_path, method, kind):
    """accelerate's own loader reads the file the studio writes, with the method, the machines and the ranks."""
    from accelerate.commands.config.config_args import load_config_from_file

    from modelforge_core.schemas import TrainingConfig
    from modelforge_core.training.launch import write_accelerate_config

    config = TrainingConfig(model_name="m", dataset="d.jsonl", num_processes=4, distributed=method, num_machines=2,
                            main_process_ip="10.0.0.1", bf16=True, gradient_accumulation_steps=3)
    path = write_accelerate_config(config, tmp_path, 1, 29511, has_cuda=True)
    assert path.name == "accelerate_config.machine1.yaml"
    loaded = load_config_from_file(str(path))
    assert str(loaded.distributed_type).endswith(kind)
    assert (loaded.num_processes, loaded.num_machines, loaded.machine_rank) == (8, 2, 1)
    assert (loaded.main_process_ip, loaded.main_process_port, str(loaded.mixed_precision)) == ("10.0.0.1", 29511, "bf16")
    if method == "fsdp":
        assert loaded.fsdp_config["fsdp_version"] == 2 and loaded.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    if method == "deepspeed-zero3":
        assert loaded.deepspeed_config["zero_stage"] == 3 and loaded.deepspeed_config["gradient_accumulation_steps"] == 3
