"""The CLI on a fresh home: demo, train with the seed's JSON shape, models list --json, info, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from conftest import REPO_ROOT, write_json


def _cli(*args: str, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelforge_core", *args],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=timeout,
    )


def _env(settings) -> dict:
    return {**os.environ, "MODELFORGE_HOME": str(settings.home), "HF_HUB_OFFLINE": "1"}


def test_demo_then_train_then_models_list(settings, tmp_path):
    env = _env(settings)
    demo = _cli("demo", "--json", env=env)
    assert demo.returncode == 0, demo.stderr
    paths = json.loads(demo.stdout)
    assert set(paths) == {"models", "datasets"}
    assert os.path.isdir(paths["models"]["causal"])
    assert {"sft", "text-generation", "dpo", "summarization"} <= set(paths["datasets"])

    config = write_json(tmp_path / "cfg.json", {
        "task": "text-generation",
        "model_name": paths["models"]["causal"],
        "provider": "huggingface",
        "strategy": "sft",
        "dataset": paths["datasets"]["sft"],
        "compute_specs": "cpu",
        "eval_split": 0.2,
        "num_train_epochs": 1,
        "lora_r": 16,
        "lora_alpha": 32,
        "use_4bit": False,
        "bf16": True,
    })
    train = _cli("train", "--config", str(config), env=env)
    assert train.returncode == 0, train.stdout + train.stderr
    assert "80/80 (100%)" in train.stdout
    assert "completed: model" in train.stdout

    listed = _cli("models", "list", "--json", env=env)
    models = json.loads(listed.stdout)
    assert len(models) == 1
    assert models[0]["metrics"]["eval_loss"] < models[0]["metrics"]["initial_eval_loss"]
    assert models[0]["strategy"] == "sft" and models[0]["base_model"] == paths["models"]["causal"]

    jobs = _cli("jobs", "list", "--json", env=env)
    assert json.loads(jobs.stdout)[0]["status"] == "completed"


def test_info_lists_what_works(settings):
    result = _cli("info", "--json", env=_env(settings))
    info = json.loads(result.stdout)
    assert info["providers"] == ["huggingface"] or "huggingface" in info["providers"]
    assert info["strategies"][:3] == ["sft", "qlora", "dpo"]
    assert "text-generation" in info["tasks"]
    assert "dpo" in info["strategies_by_task"]["text-generation"]
    assert "dpo" not in info["strategies_by_task"]["summarization"], "DPO trains text generation only"


def test_user_error_prints_message_and_hint_and_exits_2(settings, tmp_path):
    config = write_json(tmp_path / "cfg.json", {"model_name": "x", "dataset": str(tmp_path / "missing.jsonl")})
    result = _cli("train", "--config", str(config), env=_env(settings))
    assert result.returncode == 2
    assert "DatasetValidationError" in result.stderr and "not found" in result.stderr
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_job_id_is_a_clear_error(settings):
    result = _cli("jobs", "show", "doesnotexist", env=_env(settings))
    assert result.returncode == 2 and "No training job with id 'doesnotexist'" in result.stderr


def test_ctrl_c_during_train_stops_the_job_cleanly(settings, tmp_path, demo_model, samples):
    import signal
    import time

    config = write_json(tmp_path / "long.json", {
        "model_name": demo_model, "dataset": samples["sft"], "max_steps": 5000, "save_steps": 1000, "eval_split": 0,
    })
    process = subprocess.Popen(
        [sys.executable, "-m", "modelforge_core", "train", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(settings), cwd=REPO_ROOT,
    )
    lines = []
    deadline = time.monotonic() + 120
    for line in process.stdout:
        lines.append(line)
        if re.search(r"\] [1-9][0-9]*/5000", line) or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    output = "".join(lines) + out
    assert process.returncode == 0, output
    assert "Stopping: saving a checkpoint" in output
    assert "stopped:" in output and "checkpoint kept" in output
    jobs = json.loads(_cli("jobs", "list", "--json", env=_env(settings)).stdout)
    assert jobs[0]["status"] == "stopped"


def test_hardware_and_estimate_commands(settings, demo_model):
    env = _env(settings)
    report = _cli("hardware", "--json", env=env)
    assert report.returncode == 0, report.stderr
    machine = json.loads(report.stdout)
    assert machine["compute_profile"] in ("cpu", "low_end", "mid_range", "high_end") and "profile_reason" in machine

    local = _cli("estimate", "--model", demo_model, "--batch-size", "8", "--max-seq-length", "256", env=env)
    assert local.returncode == 0, local.stderr
    assert "activations" in local.stdout and "fits" in local.stdout and "with gradient checkpointing on" in local.stdout

    big = _cli("estimate", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--strategy", "sft", "--device", "cuda",
               "--memory-gb", "16", "--max-seq-length", "2048", "--json", env=env)
    assert big.returncode == 0, big.stderr  # a recommended model: estimated offline from its stored config
    result = json.loads(big.stdout)
    assert result["verdict"] == "will_not_fit" and result["params"] == 8_030_261_248
    assert any("4-bit" in s["change"] for s in result["suggestions"])

    missing = _cli("estimate", "--model", "nobody/no-such-model", env=env)
    assert missing.returncode == 2 and "offline" in missing.stderr


def test_phase_events_print_one_line_each_with_the_elapsed_time():
    import io

    from modelforge_core.cli_output import EventPrinter

    out = io.StringIO()
    printer = EventPrinter(out)
    printer.show({"type": "phase", "phase": "loading_model", "message": "Loading the model ...", "elapsed_s": 12.3})
    printer.show({"type": "progress", "step": 10, "total_steps": 20, "elapsed_s": 30, "eta_s": None})
    printer.show({"type": "phase", "phase": "saving", "message": "Saving the model ...", "elapsed_s": 3725})
    printer.show({"type": "phase", "phase": "evaluating"})
    assert out.getvalue().splitlines() == [
        "[00:12] Loading the model ...",
        "[###############---------------] 10/20 ( 50%) elapsed 00:30 left --:--",
        "[1:02:05] Saving the model ...",
        "[--:--] evaluating",
    ]


def test_train_max_steps_keeps_the_missing_config_error(settings, tmp_path):
    result = _cli("train", "--config", str(tmp_path / "missing.json"), "--max-steps", "5", env=_env(settings))
    assert result.returncode == 2 and "Config file not found" in result.stderr, result.stderr
