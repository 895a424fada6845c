"""CLI commands about the machine: ``hardware`` (the report) and ``estimate`` (will a run fit?)."""

from __future__ import annotations

import argparse
import shlex

from .cli_output import print_json
from .hardware.estimator import Verdict
from .strategies.strategy_factory import StrategyFactory

COMPONENT_LABELS = {
    "weights": "base weights",
    "adapter": "adapter (LoRA)",
    "gradients": "gradients",
    "optimizer": "optimizer state",
    "activations": "activations",
    "logits": "output logits and loss",
    "reward_model": "reward model",
}


def add_parsers(sub) -> None:
    """Adds ``hardware`` and ``estimate`` to the CLI's subcommands."""
    hardware = sub.add_parser("hardware", help="What this machine has, its compute profile and its training defaults.")
    hardware.add_argument("--json", action="store_true")
    hardware.add_argument("--recommend", metavar="TASK", help="Also list the models that fit here for a task.")

    estimate = sub.add_parser("estimate", help="Peak training memory from the model's config alone; will it fit here?")
    estimate.add_argument("--config", help="A TrainingConfig JSON file (the Finetune tab's config.json; the dataset is not "
                                           "read): estimate it as it is. The other settings below are then ignored.")
    estimate.add_argument("--model", help="Hub id or local model folder (only config.json is read).")
    estimate.add_argument("--strategy", default="sft", choices=(*StrategyFactory.names(), "full"),
                          help="sft = LoRA; full = every weight.")
    estimate.add_argument("--task", default="text-generation")
    estimate.add_argument("--batch-size", type=int, default=4)
    estimate.add_argument("--max-seq-length", type=int, default=512)
    estimate.add_argument("--lora-r", type=int, default=16)
    estimate.add_argument("--lora-dropout", type=float, default=0.05, help="Dropout on the LoRA path (0 keeps no dropout masks).")
    estimate.add_argument("--gradient-checkpointing", action="store_true")
    estimate.add_argument("--precision", choices=("auto", "bf16", "fp16", "fp32"), default="auto",
                          help="auto: this machine's default (bf16 where supported, fp32 on the CPU).")
    estimate.add_argument("--device", choices=("cpu", "cuda", "mps"), help="Estimate for another machine (with --memory-gb).")
    estimate.add_argument("--memory-gb", type=float, help="That machine's GPU memory (or RAM for cpu).")
    estimate.add_argument("--json", action="store_true")


def cmd_hardware(args: argparse.Namespace) -> int:
    from .dependencies import get_hardware_service

    service = get_hardware_service()
    machine = service.detect()
    if args.recommend:
        machine["recommendations"] = service.recommendations(args.recommend, machine)
    if args.json:
        print_json(machine)
        return 0
    print(hardware_text(machine))
    for item in machine.get("recommendations", []):
        note = f" ({item['note']})" if item.get("demo") else ""
        print(f"  {item['model_id']} ({item['params_label']}): {item['strategy']}, about {item['peak_gb']:.2f} GB{note}")
        print(f"    python -m modelforge_core {shlex.join(estimate_args(item))}")
    return 0


def estimate_args(item: dict) -> list[str]:
    """The ``estimate`` arguments that reproduce a recommendation's estimate (its settings, its task)."""
    settings = item["settings"]
    precision = "bf16" if settings["bf16"] else "fp16" if settings["fp16"] else "fp32"
    strategy = "full" if settings["finetuning_type"] == "full" else settings["strategy"]
    args = [
        "estimate", "--model", item["model_id"], "--task", item["task"], "--strategy", strategy,
        "--batch-size", str(settings["per_device_train_batch_size"]), "--max-seq-length", str(settings["max_seq_length"]),
        "--lora-r", str(settings["lora_r"]), "--lora-dropout", f"{settings['lora_dropout']:g}", "--precision", precision,
    ]
    return args + (["--gradient-checkpointing"] if settings["gradient_checkpointing"] else [])


def hardware_text(machine: dict) -> str:
    """The report as plain lines."""
    cpu = machine["cpu"]
    lines = [
        f"Compute profile: {machine['compute_profile']}: {machine['profile_reason']}",
        f"CPU: {cpu['model']} ({cpu['cores_physical']} cores, {cpu['cores_logical']} threads)",
        f"RAM: {machine['ram_total_gb']} GB ({machine['ram_available_gb']} GB free)",
        f"Disk free at the data folder: {machine['disk_free_gb']} GB",
        f"OS: {machine['os']}, Python {machine['python']}",
    ]
    for gpu in machine["gpus"]:
        lines.append(f"GPU {gpu['index']}: {gpu['name']}, {gpu['memory_total_gb']} GB ({gpu['memory_free_gb']} GB free), driver {gpu['driver']}")
    if not machine["gpus"]:
        lines.append("GPU: none")
    if machine["torch"]["mps"]:
        lines.append("Apple GPU (MPS): available")
    lines += [f"note: {note}" for note in machine["notes"]]
    lines.append("Defaults: " + ", ".join(f"{k}={v}" for k, v in machine["profile_defaults"].items()))
    lines.append("Packages: " + ", ".join(f"{k} {v or '-'}" for k, v in machine["packages"].items()))
    return "\n".join(lines)


def _config(args: argparse.Namespace, machine: dict):
    from .exceptions import ConfigurationError
    from .schemas import TrainingConfig, parse_training_config
    from .schemas.training_config import read_config_file
    from .services.hardware_service import NO_DATASET

    if args.config:
        data = read_config_file(args.config)
        if not isinstance(data, dict):
            raise ConfigurationError("A training config must be a JSON object.", "Wrap the fields in { ... }.")
        return parse_training_config({"dataset": NO_DATASET, **data})
    if not args.model:
        raise ConfigurationError("Give --model (with its settings) or --config.", "e.g. estimate --model Qwen/Qwen2.5-0.5B-Instruct")
    precision = args.precision
    if precision == "auto":
        precision = "fp32" if machine["training_device"] != "cuda" else "bf16" if machine["torch"]["bf16"] else "fp16"
    return TrainingConfig(
        model_name=args.model, dataset=NO_DATASET, task=args.task,
        strategy="sft" if args.strategy == "full" else args.strategy,
        finetuning_type="full" if args.strategy == "full" else "lora",
        per_device_train_batch_size=args.batch_size, max_seq_length=args.max_seq_length, lora_r=args.lora_r, lora_dropout=args.lora_dropout,
        gradient_checkpointing=args.gradient_checkpointing, bf16=precision == "bf16", fp16=precision == "fp16",
    )


def cmd_estimate(args: argparse.Namespace) -> int:
    from .dependencies import get_hardware_service
    from .exceptions import ConfigurationError
    from .services.hardware_service import NO_DATASET, given_machine

    service = get_hardware_service()
    if bool(args.device) != bool(args.memory_gb):
        raise ConfigurationError("--device and --memory-gb go together.", "Give both to estimate for another machine, or neither for this one.")
    machine = given_machine(args.device, args.memory_gb) if args.device else service.detect()
    config = _config(args, machine)
    result = service.estimate(config, machine)
    if config.dataset != NO_DATASET and not args.device:  # a run on this machine's data: how long it takes here
        result["time"] = service.estimate_time(config, machine)
    if args.json:
        print_json(result)
        return 0
    print(estimate_text(config, result))
    if "time" in result:
        print(time_text(result["time"]))
    return 0


def time_text(estimate: dict) -> str:
    """The time estimate as lines: in all, per step, evaluation, setup, and what the speed is based on."""
    from .hardware.time_estimate import duration_words

    lines = [
        f"time on this machine: about {duration_words(estimate['total_s'])}",
        f"  {'training':<30}{duration_words(estimate['train_s']):>10} ({duration_words(estimate['per_step_s'])} per step x {estimate['steps']})",
        f"  {'evaluation':<30}{duration_words(estimate['eval_s']):>10} ({estimate['evaluations']} times)",
        f"  {'loading and saving':<30}{duration_words(estimate['setup_s']):>10}",
        f"  speed from {estimate['basis']}",
    ]
    return "\n".join(lines + [f"  {note}" for note in estimate.get("notes", [])])


def verdict_text(value: str) -> str:
    """The verdict's words, its first clause in capitals when the run may not fit (a terminal has no colours)."""
    verdict = Verdict(value)
    if verdict is Verdict.FITS:
        return verdict.words
    head, colon, rest = verdict.words.partition(":")
    return head.upper() + colon + rest


def size(gb: float) -> str:
    """1.5 -> '1.50 GB', 0.0123 -> '12.6 MB'."""
    return f"{gb:.2f} GB" if gb >= 1 else f"{gb * 1024:.1f} MB"


def estimate_text(config, result: dict) -> str:
    """The estimate of ``config`` (a TrainingConfig) as aligned lines: components, peak, verdict, changes that help."""
    strategy = "full" if config.finetuning_type == "full" else config.strategy
    head = (
        f"{config.model_name}: {result['params'] / 1e6:,.0f}M parameters, {strategy}, batch {config.per_device_train_batch_size} x "
        f"{config.max_seq_length} tokens, on {result['device']}"
    )
    lines = [head]
    for name, value in result["components_gb"].items():
        if value:
            lines.append(f"  {COMPONENT_LABELS.get(name, name):<30}{size(value):>10}")
    framework = "CUDA context and workspace" if result["device"] == "cuda" else "Python process and libraries"
    lines.append(f"  {framework:<30}{size(result['framework_gb']):>10}")
    lines.append(f"  {'peak':<30}{size(result['peak_gb']):>10} of {result['available_gb']} GB: {verdict_text(result['verdict'])}")
    other = result["other_checkpointing"]
    lines.append(f"  with gradient checkpointing {'on' if other['gradient_checkpointing'] else 'off'}: {size(other['peak_gb'])}")
    if result.get("gpu_fill"):
        lines.append(f"  GPU fill (fill_gpu): {result['gpu_fill']}")
    lines += [f"  note: {note}" for note in result["notes"]]
    if result["suggestions"]:
        lines.append("Changes that would help:")
        lines += [f"  - {s['change']}: {s['peak_gb']} GB ({verdict_text(s['verdict'])})" for s in result["suggestions"]]
    return "\n".join(lines)
