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
import subprocess
import sys
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
    if peak <= 0:
        raise RuntimeError("the profiler recorded no allocations: measure in a fresh process")
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


def long_rows_dataset(folder: Path, kind: str, rows: int = 64, seed: int = 0) -> str:
    """A dataset whose rows all run past any max_seq_length used here, so every batch is full length."""
    import random

    rng = random.Random(seed)
    words = "alpha beta gamma delta river mountain seven orange window quiet number letter".split()

    def text(n: int) -> str:
        return " ".join(rng.choice(words) + str(rng.randint(0, 999)) for _ in range(n))

    path = folder / (f"long-{kind}.jsonl" if seed == 0 else f"long-{kind}-{seed}.jsonl")
    with path.open("w", encoding="utf-8") as out:
        for _ in range(rows):
            if kind == "summarization":
                row = {"document": text(400), "summary": text(400)}
            elif kind == "qa":
                context = text(400)
                row = {"context": context, "question": text(20), "answer": context.split()[5]}
            elif kind == "preference":
                row = {"prompt": text(20), "chosen": text(300), "rejected": text(300)}
            elif kind == "kto":
                row = {"prompt": text(20), "completion": text(300), "label": rng.random() < 0.5}
            elif kind == "prompts":  # GRPO: prompts near max_seq_length, a short reference; the answers are sampled
                row = {"instruction": text(42), "input": "", "output": rng.choice(words)}  # about 230 tokens
            else:
                row = {"prompt": text(20), "completion": text(400)}
            out.write(json.dumps(row) + "\n")
    return str(path)


CASES = [
    # (name, demo kind, dataset kind, TrainingConfig fields)
    ("causal LoRA b8 s256", "causal", "text", {"per_device_train_batch_size": 8, "max_seq_length": 256}),
    ("causal LoRA b4 s512 dropout 0", "causal", "text", {"per_device_train_batch_size": 4, "max_seq_length": 512, "lora_dropout": 0.0}),
    ("causal LoRA b8 s256 grad. checkpointing", "causal", "text", {"per_device_train_batch_size": 8, "max_seq_length": 256, "gradient_checkpointing": True}),
    ("causal full b8 s256", "causal", "text", {"per_device_train_batch_size": 8, "max_seq_length": 256, "finetuning_type": "full"}),
    ("causal DPO b4 s256", "causal", "preference", {"strategy": "dpo", "per_device_train_batch_size": 4, "max_seq_length": 256}),
    ("causal KTO b4 s256", "causal", "kto", {"strategy": "kto", "per_device_train_batch_size": 4, "max_seq_length": 256}),
    ("causal ORPO b4 s256", "causal", "preference", {"strategy": "orpo", "per_device_train_batch_size": 4, "max_seq_length": 256}),
    ("causal SimPO b4 s256", "causal", "preference", {"strategy": "simpo", "per_device_train_batch_size": 4, "max_seq_length": 256}),
    ("causal GRPO 8 answers s256 +64", "causal", "prompts",
     {"strategy": "grpo", "per_device_train_batch_size": 8, "num_generations": 4, "max_seq_length": 256, "max_completion_length": 64}),
    ("seq2seq LoRA b8 s256", "seq2seq", "summarization", {"task": "summarization", "per_device_train_batch_size": 8, "max_seq_length": 256}),
    ("QA encoder LoRA b8 s256", "qa", "qa", {"task": "extractive-question-answering", "per_device_train_batch_size": 8, "max_seq_length": 256}),
]


def run_case(demo_models: dict, folder: Path, kind: str, data_kind: str, fields: dict, steps: int = 3) -> dict:
    """Measured and estimated peak (bytes of tensors) for one case on this machine's device."""
    import torch

    from modelforge_core.schemas import TrainingConfig

    config = TrainingConfig(
        model_name=demo_models[kind], dataset=long_rows_dataset(folder, data_kind), max_steps=steps, eval_split=0.0,
        logging_steps=1, save_steps=1000, **{"fill_gpu": False, **fields},  # the settings asked for, not the GPU fill's
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    estimate = estimate_for(config, device)
    measured = measure_peak(config)
    estimated = estimate["tensors_gb"] * GB
    return {"measured_mb": measured / 2**20, "estimated_mb": estimated / 2**20, "ratio": estimated / measured, "estimate": estimate}


def build_real_size(model_id: str, folder: Path, device: str = "cpu") -> str:
    """A model of real size from a recommended model's stored config, random weights, demo tokenizer.

    ``device="cuda"`` initialises the weights on the GPU (seconds instead of a minute for 1B).
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from modelforge_core.demo.tokenizer import build_tokenizer
    from modelforge_core.hardware.catalog import known_config

    data = dict(known_config(model_id))
    config = AutoConfig.for_model(data.pop("model_type"), **data)
    target = folder / model_id.replace("/", "--")
    tokenizer = build_tokenizer(target)
    config.bos_token_id, config.eos_token_id, config.pad_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    dtype = getattr(torch, str(data.get("torch_dtype") or data.get("dtype") or "float32"))
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.save_pretrained(target, safe_serialization=True)
    del model
    return str(target)


# (name, recommended model, TrainingConfig fields): run with --real-size; QLoRA needs CUDA
REAL_SIZE_CASES = [
    ("SmolLM2-135M LoRA b2 s256", "HuggingFaceTB/SmolLM2-135M-Instruct", {"per_device_train_batch_size": 2, "max_seq_length": 256}),
    ("Qwen2.5-0.5B LoRA b4 s512 bf16", "Qwen/Qwen2.5-0.5B-Instruct", {"per_device_train_batch_size": 4, "max_seq_length": 512, "bf16": True}),
    ("Qwen2.5-0.5B LoRA b4 s512 bf16 grad. ckpt", "Qwen/Qwen2.5-0.5B-Instruct",
     {"per_device_train_batch_size": 4, "max_seq_length": 512, "bf16": True, "gradient_checkpointing": True}),
    ("Qwen2.5-1.5B QLoRA b4 s1024 bf16", "Qwen/Qwen2.5-1.5B-Instruct",
     {"strategy": "qlora", "per_device_train_batch_size": 4, "max_seq_length": 1024, "bf16": True}),
]


def _real_size_row(index: int, steps: int) -> str:
    """One real-size case, measured in this (fresh) process."""
    import torch

    name, model_id, fields = REAL_SIZE_CASES[index]
    if not torch.cuda.is_available():
        if fields.get("strategy") == "qlora":
            return ""
        if "0.5B" in name:
            fields = {k: v for k, v in fields.items() if k != "bf16"} | {"per_device_train_batch_size": 1, "max_seq_length": 256}
            name += " (CPU: b1 s256)"
    folder = Path(tempfile.mkdtemp(prefix="mf-memory-real-"))
    device = "cuda" if torch.cuda.is_available() else "cpu"  # weights initialised on the GPU: much faster
    result = run_case({"real": build_real_size(model_id, folder, device=device)}, folder, "real", "text", fields, steps)
    return f"| {name} | {result['measured_mb']:.1f} | {result['estimated_mb']:.1f} | {result['ratio']:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--real-size", action="store_true", help="Also models of real size (random weights), one process each.")
    parser.add_argument("--only-real-size", action="store_true")
    parser.add_argument("--real-size-case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.real_size_case is not None:
        print(_real_size_row(args.real_size_case, args.steps))
        return
    from modelforge_core.demo import build_demo_models
    from modelforge_core.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="mf-memory-bench-"))
    print("| case | measured MB | estimated MB | estimated / measured |")
    print("|---|---:|---:|---:|")
    if not args.only_real_size:
        demo_models = build_demo_models(Settings(home=folder / "home"))
        for name, kind, data_kind, fields in CASES:
            result = run_case(demo_models, folder, kind, data_kind, fields, args.steps)
            print(f"| {name} | {result['measured_mb']:.1f} | {result['estimated_mb']:.1f} | {result['ratio']:.2f} |", flush=True)
    if args.real_size or args.only_real_size:
        # a fresh process per model: PyTorch's profiler sometimes records nothing in a later session
        for index in range(len(REAL_SIZE_CASES)):
            done = subprocess.run(
                [sys.executable, "-m", "bench.memory_check", "--real-size-case", str(index), "--steps", str(args.steps)],
                capture_output=True, text=True, check=True,
            )
            rows = [line for line in done.stdout.splitlines() if line.startswith("|")]
            if rows:
                print(rows[-1], flush=True)


if __name__ == "__main__":
    main()
