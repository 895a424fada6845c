"""The time estimate of a run on this machine, and what each finished run teaches it.

Each finished run appends its work and its measured times to ``<data folder>/timing/runs.jsonl``; the
machine's speed (``MachineSpeed``) is fitted to the latest of them, per device and compute dtype (a CPU
multiplies bfloat16 far slower than float32). Before any run, a short matmul probe in that dtype (cached in
``timing/probe.json``) gives the prior.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..files import write_text_atomic
from .time_estimate import MachineSpeed, RunWork, run_work, time_estimate

KEEP_RECORDS = 50  # per device and dtype, the latest
DTYPES = ("float32", "bfloat16", "float16")
PROBE_SIZE = 512


class RunTiming:
    """The data folder's record of run times, and this machine's speed fitted to it."""

    def __init__(self, home: Path):
        self.folder = Path(home) / "timing"

    @property
    def records_file(self) -> Path:
        return self.folder / "runs.jsonl"

    def records(self, device: str, dtype: str = "float32") -> list[dict]:
        """The latest recorded runs on this device in this dtype (a damaged line is skipped)."""
        found = []
        try:
            lines = self.records_file.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("device") == device and record.get("dtype", "float32") == dtype:
                found.append(record)
        return found[-KEEP_RECORDS:]

    def add(self, record: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.records_file.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def probe(self, device: str, dtype: str = "float32") -> float:
        """FLOP/s of matmuls in ``dtype`` on ``device`` (timed once, then remembered with the torch version)."""
        import torch

        key = f"{device}:{dtype}:{torch.__version__}"
        path = self.folder / "probe.json"
        try:
            known = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        if key not in known:
            known[key] = matmul_flops_per_s(device, dtype)
            write_text_atomic(path, json.dumps(known, indent=2))
        return known[key]

    def speed(self, device: str, dtype: str = "float32") -> MachineSpeed:
        return MachineSpeed.fitted(MachineSpeed.prior(device, self.probe(device, dtype)), self.records(device, dtype))

    def estimate(self, work: RunWork, device: str, dtype: str = "float32") -> dict:
        return {**time_estimate(work, self.speed(device, dtype)), "dtype": dtype}


def compute_dtype(model_config: dict, config: Any, device: str) -> str:
    """The dtype the run's matmuls run in: mixed precision's on a GPU, else the checkpoint's (loaded as stored)."""
    if device == "cuda" and (config.bf16 or config.fp16):
        return "bfloat16" if config.bf16 else "float16"
    if device == "cpu" and not (config.use_4bit or config.strategy == "qlora"):
        return "float32"  # a CPU loads every checkpoint in float32 (providers/huggingface_provider.loading_dtype)
    stored = str(model_config.get("torch_dtype") or model_config.get("dtype") or "float32").removeprefix("torch.")
    return stored if stored in DTYPES else "float32"


def matmul_flops_per_s(device: str, dtype: str = "float32", size: int = PROBE_SIZE, seconds: float = 0.3) -> float:
    """How fast this device multiplies matrices in ``dtype``, over about ``seconds``."""
    import torch

    target = torch.device("cuda" if device == "cuda" else "mps" if device == "mps" else "cpu")
    generator = torch.Generator(device=target).manual_seed(0)  # its own: a run's random state stays as seeded
    a = torch.randn(size, size, device=target, generator=generator).to(getattr(torch, dtype))
    b = torch.randn(size, size, device=target, generator=generator).to(getattr(torch, dtype))
    _sync(target)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or count < 3:
        a @ b
        count += 1
        if count % 8 == 0:
            _sync(target)
    _sync(target)
    return 2 * size**3 * count / (time.perf_counter() - start)


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def work_for_config(config: Any, shape: Any, train_rows: Any, eval_rows: Any, tokenizer: Any, strategy: Any) -> RunWork:
    """The run's work from its splits: a sample of each split's rows, tokenized as the strategy does."""
    from ..data.length_sample import sequence_lengths
    from ..model_kinds import ModelKind

    seq2seq = shape.kind is ModelKind.SEQ2SEQ
    train_lengths = sequence_lengths(train_rows, tokenizer, config, strategy, seq2seq)
    eval_lengths = sequence_lengths(eval_rows, tokenizer, config, strategy, seq2seq) if eval_rows is not None else []
    return run_work(shape, config, train_lengths, len(train_rows), eval_lengths, len(eval_rows) if eval_rows is not None else 0,
                    generated_tokens=task_metric_tokens(config, eval_rows, tokenizer, strategy))


def task_metric_tokens(config: Any, eval_rows: Any, tokenizer: Any, strategy: Any) -> int:
    """Model calls the task's metrics make at each evaluation: a summary of up to MAX_SUMMARY_TOKENS per row for
    ROUGE, one pass per question for extractive QA's F1; none for tasks without such metrics."""
    from ..tasks.summarization import MAX_SUMMARY_TOKENS

    if eval_rows is None or strategy.task_evaluator(tokenizer, config, eval_rows) is None:
        return 0
    rows = min(config.eval_generation_samples, len(eval_rows))
    return rows * MAX_SUMMARY_TOKENS if config.task == "summarization" else rows


def step_seconds(shape: Any, config: Any, speed: MachineSpeed) -> float:
    """Seconds of one optimizer step of ``config`` on rows of max_seq_length tokens (a recommendation's figure)."""
    one_step = config.model_copy(update={"max_steps": 1})
    work = run_work(shape, one_step, [config.max_seq_length] * 8, 1, [], 0)
    return speed.seconds(work.train_calls, work.train_flops)


def measured_record(device: str, dtype: str, config: Any, work: RunWork, estimate: dict, eval_runtimes: list[float],
                    total_s: float, train_runtime_s: float, task_metric_s: float = 0.0) -> dict:
    """A finished run's record: its work, the seconds it spent training, evaluating and around them, and its estimate.

    ``eval_runtimes``: each evaluation's seconds (the trainer's ``eval_runtime``) and ``task_metric_s`` the task
    metrics' (ROUGE, F1) after them; both happen inside ``train_runtime_s``, so they are taken out of it.
    """
    eval_s = sum(eval_runtimes) + task_metric_s
    train_s = max(train_runtime_s - eval_s, 0.1 * train_runtime_s)
    return {
        "time": time.time(), "device": device, "dtype": dtype, "model": config.model_name, "strategy": config.strategy,
        "train_calls": work.train_calls, "train_flops": work.train_flops, "train_s": round(train_s, 3),
        "eval_calls": work.eval_calls, "eval_flops": work.eval_flops, "eval_s": round(eval_s, 3),
        "setup_s": round(max(total_s - train_s - eval_s, 0.0), 3), "total_s": round(total_s, 3), "params": work.params,
        "estimated_total_s": estimate.get("total_s"), "estimate_basis": estimate.get("basis"),
    }
