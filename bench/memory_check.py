"""Peak training memory, measured, next to the estimator's figure for the same settings.

    python -m bench.memory_check [--device cpu|cuda] [--steps N]

On the CPU the peak is the model's resident tensors plus the peak of the tensors allocated while
training (PyTorch's profiler with ``profile_memory``); on a GPU it is
``torch.cuda.max_memory_allocated``. Both leave out the framework's own share (Python process,
CUDA context), which the estimator reports apart.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

GB = 1024**3


def _resident_bytes(model) -> int:
    seen, total = set(), 0
    for tensor in [*model.parameters(), *model.buffers()]:
        key = tensor.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total += tensor.untyped_storage().nbytes()
    return total


def _profiled_peak(train) -> int:
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        train()
    # each op's own allocations and frees (children excluded), in the order the ops started
    events = sorted((e.time_range.start, e.self_cpu_memory_usage) for e in prof.events() if e.self_cpu_memory_usage)
    live = peak = 0
    for _, change in events:
        live += change
        peak = max(peak, live)
    return peak


def measure_peak(config) -> int:
    """Bytes of tensors at the peak of training ``config`` (a TrainingConfig) for its max_steps."""
    import torch

    from modelforge_core.training.events import EventLog
    from modelforge_core.training.pipeline import prepare_run
    from modelforge_core.training.run_files import RunFiles

    folder = Path(tempfile.mkdtemp(prefix="mf-memory-"))
    run = RunFiles(folder)
    prepared = prepare_run(config, run, EventLog(run.events))
    trainer = prepared.trainer
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        trainer.train()
        return torch.cuda.max_memory_allocated()
    resident = _resident_bytes(trainer.model)
    return resident + _profiled_peak(trainer.train)


def estimate_for(config, device: str) -> dict:
    """The estimator's figure for ``config`` on ``device``."""
    from modelforge_core.services.hardware_service import estimate_config

    return estimate_config(config, device=device)


def long_rows_dataset(folder: Path, kind: str, rows: int = 64) -> str:
    """A dataset whose rows all run past any max_seq_length used here, so every batch is full length."""
    import random

    rng = random.Random(0)
    words = "alpha beta gamma delta river mountain seven orange window quiet number letter".split()

    def text(n: int) -> str:
        return " ".join(rng.choice(words) + str(rng.randint(0, 999)) for _ in range(n))

    path = folder / f"long-{kind}.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for _ in range(rows):
            if kind == "summarization":
                row = {"document": text(400), "summary": text(400)}
            elif kind == "qa":
                context = text(400)
                row = {"context": context, "question": text(20), "answer": context.split()[5]}
            elif kind == "preference":
                row = {"prompt": text(20), "chosen": text(300), "rejected": text(300)}
            else:
                row = {"prompt": text(20), "completion": text(400)}
            out.write(json.dumps(row) + "\n")
    return str(path)


CASES = [
    # (name, demo kind, dataset kind, TrainingConfig fields)
    ("causal LoRA b8 s256", "causal-lm", "text", {"per_device_train_batch_size": 8, "max_seq_length": 256}),
    ("causal LoRA b4 s512 dropout 0", "causal-lm", "text", {"per_device_train_batch_size": 4, "max_seq_length": 512, "lora_dropout": 0.0}),
    ("causal LoRA b8 s256 grad. checkpointing", "causal-lm", "text", {"per_device_train_batch_size": 8, "max_seq_length": 256, "gradient_checkpointing": True}),
    ("causal full b8 s256", "causal-lm", "text", {"per_device_train_batch_size": 8, "max_seq_length": 256, "finetuning_type": "full"}),
    ("causal DPO b4 s256", "causal-lm", "preference", {"strategy": "dpo", "per_device_train_batch_size": 4, "max_seq_length": 256}),
    ("seq2seq LoRA b8 s256", "seq2seq", "summarization", {"task": "summarization", "per_device_train_batch_size": 8, "max_seq_length": 256}),
    ("QA encoder LoRA b8 s256", "qa-encoder", "qa", {"task": "extractive-question-answering", "per_device_train_batch_size": 8, "max_seq_length": 256}),
]


def run_case(demo_models: dict, folder: Path, kind: str, data_kind: str, fields: dict, steps: int = 3) -> dict:
    """Measured and estimated peak (bytes of tensors) for one case on this machine's device."""
    import torch

    from modelforge_core.schemas import TrainingConfig

    config = TrainingConfig(
        model_name=demo_models[kind], dataset=long_rows_dataset(folder, data_kind), max_steps=steps, eval_split=0.0,
        logging_steps=1, save_steps=1000, **fields,
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    estimate = estimate_for(config, device)
    measured = measure_peak(config)
    estimated = estimate["tensors_gb"] * GB
    return {"measured_mb": measured / 2**20, "estimated_mb": estimated / 2**20, "ratio": estimated / measured, "estimate": estimate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    from modelforge_core.demo import build_demo_models
    from modelforge_core.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="mf-memory-bench-"))
    demo_models = build_demo_models(Settings(home=folder / "home"))
    print("| case | measured MB | estimated MB | estimated / measured |")
    print("|---|---:|---:|---:|")
    for name, kind, data_kind, fields in CASES:
        result = run_case(demo_models, folder, kind, data_kind, fields, args.steps)
        print(f"| {name} | {result['measured_mb']:.1f} | {result['estimated_mb']:.1f} | {result['ratio']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
