"""The time estimate before Start against the run's real wall time, on this machine.

    python -m bench.time_estimate [--quick]

Each case is a real job through the queue and its worker process (imports, loading, tokenizing,
training, evaluating, saving: what the user waits for). Two rounds on a fresh data folder:

1. **first estimate**: no earlier run on this machine, only the matmul probe and the priors; every
   case runs once and its measured times are recorded.
2. **speed known**: each case is estimated again, once from the *other* cases' records only (leave one
   out: the machine's speed, not this run's own time) and once from every case's first run (this kind
   of run seen once before, as when a user repeats an experiment with a change), then runs again.

The table gives the estimates, the actual seconds and estimate / actual.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# (name, model: a demo kind or a recommended model built at real size, dataset kind, TrainingConfig fields)
CASES = [
    ("demo SFT 60 steps", "causal", "sft", {"max_steps": 60, "eval_steps": 20, "per_device_train_batch_size": 8}),
    ("demo DPO 40 steps", "causal", "dpo", {"strategy": "dpo", "max_steps": 40, "eval_steps": 20, "per_device_train_batch_size": 4}),
    ("demo seq2seq 40 steps", "seq2seq", "summarization",
     {"task": "summarization", "max_steps": 40, "eval_steps": 20, "per_device_train_batch_size": 8}),
    ("SmolLM2-135M (real size, bf16) LoRA b2 s128, 6 steps", "HuggingFaceTB/SmolLM2-135M-Instruct", "sft",
     {"max_steps": 6, "eval_steps": 3, "per_device_train_batch_size": 2, "max_seq_length": 128, "eval_split": 0.03}),
    ("Qwen2.5-0.5B (real size, bf16) LoRA b1 s128, 3 steps", "Qwen/Qwen2.5-0.5B-Instruct", "sft",
     {"max_steps": 3, "eval_steps": 3, "per_device_train_batch_size": 1, "max_seq_length": 128, "eval_split": 0.02}),
]
QUICK_CASES = CASES[:2]


def _config(models: dict, samples: dict, case: tuple) -> dict:
    name, model, data, fields = case
    return {
        "model_name": models[model], "dataset": samples[data], "task": "text-generation", "strategy": "sft",
        "eval_split": 0.2, "logging_steps": 5, "save_steps": 1000, "learning_rate": 5e-4, "output_name": "bench",
        **fields,
    }


def _run(training, config: dict) -> dict:
    """Queue the job, wait for it, and return the record its worker appended to timing/runs.jsonl."""
    from modelforge_core.hardware.run_timing import RunTiming

    timing = RunTiming(training.settings.home)
    before = _lines(timing.records_file)
    job = training.submit(config)
    for _ in training.follow(job["id"], poll_interval=0.2, timeout=1800):
        pass
    job = training.get_job(job["id"])
    if job["status"] != "completed":
        raise SystemExit(f"{config['output_name']} ended {job['status']}: {job.get('error_message')}")
    records = _lines(timing.records_file)
    if len(records) <= len(before):
        raise SystemExit("the worker recorded no time")
    return json.loads(records[-1])


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Two demo cases, to check the script works.")
    parser.add_argument("--records", help="Write the first round's measured records (JSON) here.")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="mf-time-"))
    os.environ["MODELFORGE_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(REPO_ROOT))

    from bench.memory_check import build_real_size
    from modelforge_core.database.database_manager import DatabaseManager
    from modelforge_core.demo import build_demo_models
    from modelforge_core.services.dataset_service import DatasetService
    from modelforge_core.services.hardware_service import estimate_run_time
    from modelforge_core.services.training_service import TrainingService
    from modelforge_core.settings import Settings

    settings = Settings(home=home).ensure_dirs()
    cases = QUICK_CASES if args.quick else CASES
    models = dict(build_demo_models(settings))
    for _, model, _, _ in cases:
        if "/" in model and model not in models:
            models[model] = build_real_size(model, home / "real")
    samples = DatasetService.sample_paths()
    training = TrainingService(DatabaseManager(settings.database_url), settings)
    timing_file = home / "timing" / "runs.jsonl"
    try:
        first, recorded = [], []
        for index, case in enumerate(cases):
            config = _config(models, samples, case) | {"output_name": f"bench-{index}-a"}
            timing_file.unlink(missing_ok=True)  # round 1: no earlier run; the probe stays
            estimate = _estimate(estimate_run_time, training, home, config)
            record = _run(training, config)
            first.append(estimate)
            recorded.append(record)
        rows = []
        for index, case in enumerate(cases):
            config = _config(models, samples, case) | {"output_name": f"bench-{index}-b"}
            _write(timing_file, recorded)  # every case's first run: this case's own kind of run is known too
            seen = _estimate(estimate_run_time, training, home, config)
            others = [record for j, record in enumerate(recorded) if j != index]
            _write(timing_file, others)  # only the other cases: the machine's speed, not this run's own time
            estimate = _estimate(estimate_run_time, training, home, config)
            record = _run(training, config)
            rows.append((case[0], first[index], recorded[index]["total_s"], estimate, seen, record["total_s"]))
    finally:
        training.close()
    if args.records:
        Path(args.records).write_text(json.dumps(recorded, indent=2), encoding="utf-8")
    print("| case | first estimate s | actual s | first / actual | speed known from the other cases: estimate s "
          "| with this case's first run too: estimate s | actual s | other cases: estimate / actual | with this case: estimate / actual |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, first_s, first_actual, known_s, seen_s, actual in rows:
        print(f"| {name} | {first_s:.1f} | {first_actual:.1f} | {first_s / first_actual:.2f} | {known_s:.1f} | {seen_s:.1f} | "
              f"{actual:.1f} | {known_s / actual:.2f} | {seen_s / actual:.2f} |")
    firsts = [first / first_actual for _, first, first_actual, _, _, _ in rows]
    others = [known / actual for _, _, _, known, _, actual in rows]
    seen = [seen_s / actual for _, _, _, _, seen_s, actual in rows]
    print(f"\nmedian |error|: first estimate {statistics.median(abs(r - 1) for r in firsts):.0%}, "
          f"speed from the other cases {statistics.median(abs(r - 1) for r in others):.0%} (worst {max(abs(r - 1) for r in others):.0%}), "
          f"with this case's first run {statistics.median(abs(r - 1) for r in seen):.0%} (worst {max(abs(r - 1) for r in seen):.0%})")
    shutil.rmtree(home, ignore_errors=True)


def _write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def _estimate(estimate_run_time, training, home: Path, config: dict) -> float:
    config = training.validate(config)
    return estimate_run_time(home, config, "cpu")["total_s"]



if __name__ == "__main__":
    main()
