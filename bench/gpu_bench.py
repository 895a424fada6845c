"""GPU training speed and memory: HF+LoRA (bf16), HF+QLoRA, Unsloth+LoRA, Unsloth+QLoRA, and the fast default path.

    python -m bench.gpu_bench [--models qwen-0.5b,llama-1b] [--configs ...] [--steps 6] [--warmup 3] [--json FILE]
    python -m bench.gpu_bench --report FILE [FILE ...]   # write saved runs' table into RESULTS.md

Needs a CUDA GPU (and unsloth for its two configurations; without it they are reported as not
run). Models of real size are built from the stored configs of Qwen2.5-0.5B, Llama-3.2-1B and
Llama-3.1-8B with random weights (speed and memory do not depend on the weights) and the demo
tokenizer; every row of the data runs past the sequence length, so every micro-batch trains
batch x length tokens. Each configuration runs in a fresh process (Unsloth patches transformers and
TRL when imported) through ModelForge's own pipeline (``prepare_run``, then ``train()``), with the
same data, steps, effective batch (batch x accumulation rows per update), LoRA (r=16 unless
``--lora-r``) on all linear layers and bf16. The four reference configurations keep the settings as given (SDPA attention,
gradient checkpointing, no Liger, no GPU fill); ``hf-lora-fast`` is the Hugging Face provider's
default path: varlen attention, Liger Kernel where installed, and the GPU fill (the same rows per
update in fewer, larger micro-batches, checkpointing off where the estimate allows).

Tokens/s is the median over the timed optimizer steps after warm-up (each step timed between CUDA
synchronisations); peak memory is ``torch.cuda.max_memory_allocated`` over the whole process
(weights included). Held-out loss: the mean cross-entropy of 16 rows the run never saw, computed
after training by one function for every configuration. MFU = model FLOPs per second / the GPU's
dense bf16 peak, with model FLOPs per token = 4 x (weights of the linear layers, output layer
included: forward plus the input gradients; frozen weights get no weight gradients) + 6 x (LoRA
weights) + 12 x layers x hidden x length (attention scores, forward and backward); recomputation by
gradient checkpointing is not counted, as usual for MFU. ``--profile-configs`` records the top CUDA
kernels of two steps after the timed ones (PyTorch's profiler).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MODELS = {
    "qwen-0.5b": "Qwen/Qwen2.5-0.5B-Instruct", "llama-1b": "meta-llama/Llama-3.2-1B-Instruct",
    "llama-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "smollm-135m": "HuggingFaceTB/SmolLM2-135M-Instruct",  # not in the default run: a quick check of the script
}
DEFAULT_MODELS = "qwen-0.5b,llama-1b"
REFERENCE = {"attention": "sdpa", "liger_kernel": "off", "fill_gpu": False, "gradient_checkpointing": True}
CONFIGS = {
    "hf-lora": {"provider": "huggingface", "strategy": "sft", **REFERENCE},
    "hf-qlora": {"provider": "huggingface", "strategy": "qlora", **REFERENCE},
    "unsloth-lora": {"provider": "unsloth", "strategy": "sft", **REFERENCE},
    "unsloth-qlora": {"provider": "unsloth", "strategy": "qlora", **REFERENCE},
    # the default path: attention, liger_kernel and fill_gpu at their defaults (auto, auto, on)
    "hf-lora-fast": {"provider": "huggingface", "strategy": "sft", "gradient_checkpointing": True},
    "hf-qlora-fast": {"provider": "huggingface", "strategy": "qlora", "gradient_checkpointing": True},
}
DEFAULT_CONFIGS = "hf-lora,hf-qlora,unsloth-lora,unsloth-qlora,hf-lora-fast"
BATCH, ACCUMULATION, LENGTH, LORA_R = 4, 4, 1024, 16  # defaults of --batch, --accumulation and --length
HELD_OUT_ROWS = 16
DENSE_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.1, "RTX 4090": 165.2}


def model_flops_per_token(model_id: str, lora_r: int, length: int) -> float:
    """See the module docstring."""
    from modelforge_core.hardware.catalog import known_config
    from modelforge_core.hardware.model_shape import model_shape

    shape = model_shape(known_config(model_id))
    linear = shape.linear_params + shape.vocab_size * shape.hidden_size
    return 4 * linear + 6 * shape.lora_params(lora_r) + 12 * shape.num_layers * shape.hidden_size * length


def peak_tflops(gpu_name: str) -> float | None:
    return next((v for k, v in DENSE_BF16_TFLOPS.items() if k in gpu_name), None)


def build_models(keys: list[str], folder: Path) -> dict[str, str]:
    """Each model once, weights initialised on the GPU where there is one; {key: folder}."""
    import torch

    from bench.memory_check import build_real_size

    device = "cuda" if torch.cuda.is_available() else "cpu"
    built = {}
    for key in keys:
        target = folder / MODELS[key].replace("/", "--")
        built[key] = str(target) if (target / "config.json").is_file() else build_real_size(MODELS[key], folder, device=device)
    return built


def held_out_loss(model, tokenizer, path: str, length: int) -> float:
    """Mean cross-entropy of the rows in ``path`` (prompt and completion as one text), 4 rows at a time."""
    import json as json_module

    import torch

    rows = [json_module.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
    texts = [row["prompt"] + " " + row["completion"] for row in rows]
    device = next(model.parameters()).device
    losses = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(texts), 4):
            batch = tokenizer(texts[start:start + 4], truncation=True, max_length=length, padding=True, return_tensors="pt").to(device)
            labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
            losses.append(float(model(**batch, labels=labels).loss))
    return sum(losses) / len(losses)


def run_case(model_key: str, model: str, config_key: str, steps: int, warmup: int, batch: int = BATCH,
             length: int = LENGTH, accumulation: int = ACCUMULATION, profile: bool = False, lora_r: int = LORA_R) -> dict:
    """One configuration in this process: step times, tokens, peak memory and the held-out loss."""
    import time

    if CONFIGS[config_key]["provider"] == "unsloth":
        import unsloth  # noqa: F401  (before transformers, TRL and PEFT, which it patches)

    import torch
    from transformers import TrainerCallback

    from bench.memory_check import long_rows_dataset
    from modelforge_core.schemas import TrainingConfig
    from modelforge_core.services.hardware_service import estimate_config
    from modelforge_core.training.events import EventLog
    from modelforge_core.training.pipeline import prepare_run
    from modelforge_core.training.run_files import RunFiles

    folder = Path(tempfile.mkdtemp(prefix="mf-gpu-bench-"))
    profiled = 2  # steps after the timed ones, for the profiler where asked: every configuration trains as many
    config = TrainingConfig(
        model_name=model, dataset=long_rows_dataset(folder, "text", rows=batch * accumulation * (steps + warmup + profiled) + 8),
        per_device_train_batch_size=batch, gradient_accumulation_steps=accumulation, max_seq_length=length,
        max_steps=steps + warmup + profiled, bf16=True, lora_r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0,
        learning_rate=1e-3, eval_split=0.0, logging_steps=1, save_steps=10**6, **CONFIGS[config_key],
    )
    held_out = long_rows_dataset(folder, "text", rows=HELD_OUT_ROWS, seed=1)

    cuda = torch.cuda.is_available()  # without CUDA (a dry run of this script) memory reads 0
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times, self.tokens, self._start, self._seen, self.profiler = [], [], 0.0, 0, None

        def on_step_begin(self, args, state, control, **kwargs):
            if profile and state.global_step == warmup + steps:
                activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
                self.profiler = torch.profiler.profile(activities=activities)
                self.profiler.__enter__()
            sync()
            self._start, self._seen = time.perf_counter(), state.num_input_tokens_seen

        def on_step_end(self, args, state, control, **kwargs):
            sync()
            if state.global_step <= warmup + steps:
                self.times.append(time.perf_counter() - self._start)
                self.tokens.append(state.num_input_tokens_seen - self._seen)

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    run = RunFiles(folder / "run")
    events = EventLog(run.events)
    prepared = prepare_run(config, run, events)
    trainer = prepared.trainer
    timer = StepTimer()
    trainer.add_callback(timer)
    trainer.train()
    top_kernels = ""
    if timer.profiler is not None:
        timer.profiler.__exit__(None, None, None)
        top_kernels = timer.profiler.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=70)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0
    try:
        loss = held_out_loss(trainer.model, prepared.tokenizer, held_out, length)
    except Exception as exc:  # a configuration whose model cannot be called plainly: say so, keep the speed
        loss, top_kernels = None, f"held-out loss failed: {type(exc).__name__}: {exc}\n{top_kernels}"
    speeds = [tokens / seconds for tokens, seconds in zip(timer.tokens[warmup:], timer.times[warmup:])]
    notes = [e["message"] for e in events.read_all() if e.get("type") == "log"]
    ran = prepared.config
    return {
        "model": model_key, "config": config_key, "tokens_per_s": statistics.median(speeds),
        "tokens_per_step": statistics.median(timer.tokens[warmup:]), "step_s": statistics.median(timer.times[warmup:]),
        "peak_gb": peak, "held_out_loss": loss,
        "estimated_gb": estimate_config(ran, "cuda" if cuda else "cpu")["tensors_gb"],
        "gpu": torch.cuda.get_device_name(0) if cuda else "CPU", "batch": batch, "accumulation": accumulation,
        "micro_batch": ran.per_device_train_batch_size, "gradient_checkpointing": ran.gradient_checkpointing,
        "length": length, "lora_r": lora_r, "flops_per_token": model_flops_per_token(MODELS[model_key], lora_r, length),
        "timed_steps": len(speeds),
        "notes": [n for n in notes if n.startswith(("Attention", "GPU fill", "Liger", "Padding-free", "Chunked"))] or notes[-6:],
        "top_kernels": top_kernels,
    }


def merge_results(runs: list[dict]) -> list[dict]:
    """The results of several saved runs, in first-seen order; a later run's case replaces an earlier one's."""
    merged: dict[tuple[str, str], dict] = {}
    for run in runs:
        for result in run["results"]:
            merged[(result["model"], result["config"])] = result
    return list(merged.values())


def table(results: list[dict]) -> str:
    rows = ["| model | configuration | micro-batch x accumulation, length | median tokens/s | ratio to hf-lora | peak GPU memory GB "
            "| memory ratio to hf-lora | estimated GB | held-out loss | MFU |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for model_key in dict.fromkeys(r["model"] for r in results):
        mine = [r for r in results if r["model"] == model_key]
        base = next((r for r in mine if r["config"] == "hf-lora" and "error" not in r), None)
        for r in mine:
            if "error" in r:
                rows.append(f"| {model_key} | {r['config']} | not run: {r['error']} | | | | | | | |")
                continue
            peak = peak_tflops(r["gpu"])
            mfu = f"{100 * r['tokens_per_s'] * r['flops_per_token'] / (peak * 1e12):.1f}%" if peak else "n/a"
            speed_ratio = f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}" if base else "-"
            memory_ratio = f"{r['peak_gb'] / base['peak_gb']:.2f}" if base and base["peak_gb"] else "-"
            shape = "-"
            if "batch" in r:  # runs saved before 2026-12 hold no accumulation: it was 1
                micro = r.get("micro_batch", r["batch"])
                shape = f"{micro} x {r.get('accumulation', 1) * r['batch'] // micro}, {r['length']}"
                shape += ", ckpt" if r.get("gradient_checkpointing", True) else ""
            loss = f"{r['held_out_loss']:.4f}" if r.get("held_out_loss") is not None else "-"
            estimated = f"{r['estimated_gb']:.2f}" if r.get("estimated_gb") is not None else "-"
            rows.append(f"| {model_key} | {r['config']} | {shape} | {r['tokens_per_s']:.0f} | {speed_ratio} | {r['peak_gb']:.2f} | "
                        f"{memory_ratio} | {estimated} | {loss} | {mfu} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS, help=f"Comma-separated, of: {', '.join(MODELS)}.")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"Comma-separated, of: {', '.join(CONFIGS)}.")
    parser.add_argument("--steps", type=int, default=6, help="Timed optimizer steps.")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--accumulation", type=int, default=ACCUMULATION)
    parser.add_argument("--length", type=int, default=LENGTH)
    parser.add_argument("--lora-r", type=int, default=LORA_R)
    parser.add_argument("--profile-configs", default="", help="Configurations whose top CUDA kernels are recorded.")
    parser.add_argument("--models-dir", help="Build the models here, or reuse the ones built here before.")
    parser.add_argument("--build-only", action="store_true", help="Build the models (into --models-dir) and stop.")
    parser.add_argument("--json", help="Also save the results (with the GPU and versions) to this file.")
    parser.add_argument("--report", nargs="+", metavar="FILE",
                        help="Write the table of saved runs into bench/RESULTS.md and stop; a later file's "
                             "result for a model and configuration replaces an earlier one's.")
    parser.add_argument("--case", nargs=3, help=argparse.SUPPRESS)  # model key, model folder, configuration
    args = parser.parse_args()
    if args.case:
        profile = args.case[2] in args.profile_configs.split(",")
        print(json.dumps(run_case(*args.case, args.steps, args.warmup, args.batch, args.length, args.accumulation, profile,
                                  args.lora_r)))
        return
    if args.report:
        from bench.results import write_block

        runs = [json.loads(Path(file).read_text()) for file in args.report]
        write_block("gpu", "; then ".join(run["command"] for run in runs), table(merge_results(runs)),
                    machine=runs[-1]["machine"], day=runs[-1]["date"])
        return
    import datetime

    from bench.results import machine_line
    from modelforge_core.packages import is_unsloth_available

    folder = Path(args.models_dir) if args.models_dir else Path(tempfile.mkdtemp(prefix="mf-gpu-models-"))
    folder.mkdir(parents=True, exist_ok=True)
    models = build_models(args.models.split(","), folder)
    if args.build_only:
        return
    command = (f"python -m bench.gpu_bench --models {args.models} --configs {args.configs} --steps {args.steps} "
               f"--warmup {args.warmup} --batch {args.batch} --accumulation {args.accumulation} --length {args.length} "
               f"--lora-r {args.lora_r}")
    results: list[dict] = []
    for model_key in args.models.split(","):
        for config_key in args.configs.split(","):
            if config_key.startswith("unsloth") and not is_unsloth_available():
                results.append({"model": model_key, "config": config_key, "error": "unsloth not installed"})
                continue
            done = subprocess.run(
                [sys.executable, "-m", "bench.gpu_bench", "--case", model_key, models[model_key], config_key, "--steps", str(args.steps),
                 "--warmup", str(args.warmup), "--batch", str(args.batch), "--accumulation", str(args.accumulation),
                 "--length", str(args.length), "--lora-r", str(args.lora_r), "--profile-configs", args.profile_configs],
                capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
            )
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode != 0 or not lines:
                error = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
                results.append({"model": model_key, "config": config_key, "error": error})
                print(done.stderr[-4000:], file=sys.stderr)
            else:
                results.append(json.loads(lines[-1]))
            print(json.dumps({k: v for k, v in results[-1].items() if k != "top_kernels"}), flush=True)
            if results[-1].get("top_kernels"):
                print(results[-1]["top_kernels"], file=sys.stderr, flush=True)
            if args.json:  # after every configuration, so that a run cut short keeps what it measured
                Path(args.json).write_text(json.dumps({
                    "command": command, "machine": machine_line(), "date": datetime.date.today().isoformat(), "results": results,
                }, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
