"""The steps of one training run, in the worker process.

provider loads model and tokenizer -> strategy prepares model and data -> split -> trainer with the
event callback -> train (or resume) -> evaluate -> save adapter, tokenizer, model card, metadata
into a staging folder that is renamed into place only when complete.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.pipeline import load_training_splits
from ..exceptions import TrainingError
from ..model_card import write_card_from_metadata, write_model_metadata
from ..model_kinds import ModelKind
from ..providers.model_classes import check_model_serves_task
from ..providers.model_source import read_model_config
from ..providers.provider_factory import ProviderFactory
from ..providers.quantization import QuantizationFactory
from ..schemas import TrainingConfig
from ..schemas.learning_rates import usual_learning_rates
from ..settings import Settings
from ..strategies import TrainingStrategy
from ..strategies.lora import count_parameters
from ..strategies.strategy_factory import StrategyFactory
from ..strategies.training_args import resolve_precision
from .callbacks import EventCallback
from .distributed import is_main_process, rank, wait_for_everyone
from .events import EventLog
from .gpu_path import plan_gpu_path
from .job_clock import JobClock
from .launch import SHARDED_METHODS
from .oom_recovery import injected_oom_step, oom_injection_callback
from .reproduce import reproduce_record, write_reproduce_record
from .row_record import record_train_rows_if_asked
from .run_files import RunFiles
from .task_metrics import TaskMetricsCallback
from .timing import estimate_at_start, process_seconds, record_finished
from .tracking import eval_extras, tracker_callbacks

# Task heads trained in full next to LoRA: kept out of 4-bit quantization (and the lm_head, which
# transformers keeps out anyway).
FULL_PRECISION_HEADS = {ModelKind.QA.auto_class: ["qa_outputs"]}


@dataclass
class RunResult:
    """What a run produced: ``stopped`` keeps a checkpoint; ``completed`` a saved model folder."""

    status: str
    metrics: dict = field(default_factory=dict)
    output_dir: Path | None = None


@dataclass
class PreparedRun:
    """A trainer ready to train, with what the rest of the run needs."""

    config: TrainingConfig
    strategy: TrainingStrategy
    tokenizer: Any
    trainer: Any
    callback: EventCallback
    task_metrics: TaskMetricsCallback | None
    has_eval: bool
    trainable: int
    total: int
    timing: tuple | None = None  # (the run's work, its time estimate), for the record at its end


def _phase(events: EventLog, clock: JobClock, phase: str, message: str) -> None:
    events.write("phase", phase=phase, message=message, elapsed_s=clock.elapsed())


def prepare_run(
    config: TrainingConfig,
    run: RunFiles,
    events: EventLog,
    on_progress: Callable[[int, int], None] | None = None,
    clock: JobClock | None = None,
) -> PreparedRun:
    """Load model and tokenizer, prepare them and the data, build the trainer with its callbacks.

    ``clock`` counts the job's elapsed time (over resumes) for the phase and progress events.
    """
    clock = clock or JobClock()
    _phase(events, clock, "loading_model", f"Loading the model {_model_label(config.model_name)} ({config.provider} provider)")
    from transformers import set_seed

    set_seed(config.seed)  # task heads and LoRA weights are initialised before the trainer seeds anything
    provider = ProviderFactory.create(config.provider)
    provider.check_available()
    strategy = StrategyFactory.create(config.strategy, provider=provider, output_dir=run.checkpoints)

    _, _, precision_note = resolve_precision(config)
    if precision_note:
        events.log(precision_note, level="warning")
    model_config = read_model_config(config.model_name)
    model_class = check_model_serves_task(config.model_name, model_config, config.task)
    gpu_path = plan_gpu_path(config, model_class, model_config)
    config = gpu_path.config  # the GPU fill's micro-batch settings; the job keeps the user's config
    for note in gpu_path.notes:
        events.log(note)
    quantization = QuantizationFactory.create(
        use_4bit=config.use_4bit or strategy.requires_4bit, bf16=config.bf16, skip_modules=FULL_PRECISION_HEADS.get(model_class),
        sharded=config.world_size > 1 and config.distributed in SHARDED_METHODS,
    )
    if quantization is not None:
        events.log("Loading the base model in 4-bit nf4 (double quantization)")
        if not _has_cuda():
            events.log(
                "4-bit on the CPU: about 4x less memory for the base weights, but slower steps than full precision "
                "here (bitsandbytes' CPU kernels dequantize on the fly). Turn use_4bit off if memory allows.",
                level="warning",
            )
    tokenizer = provider.load_tokenizer(config.model_name)
    load_options = {"attn_implementation": gpu_path.attention} if gpu_path.attention else {}
    model = provider.load_model(config.model_name, model_class, quantization, max_seq_length=config.max_seq_length,
                                **load_options)
    model = strategy.prepare_model(model, config)
    trainable, total = count_parameters(model)
    events.log(f"Trainable parameters: {trainable:,} of {total:,} ({100 * trainable / max(total, 1):.2f}%)")

    splits = load_training_splits(config)
    train_rows, eval_rows = splits.train, splits.eval
    eval_count = len(eval_rows) if eval_rows is not None else 0
    for note in splits.notes:
        events.log(note, level="warning" if note in splits.warnings else "info")
    _phase(events, clock, "preparing_data", f"Preparing {len(train_rows) + eval_count} rows (tokenizing, masking)")
    train_data = strategy.prepare_dataset(train_rows, tokenizer, config)
    eval_data = strategy.prepare_dataset(eval_rows, tokenizer, config) if eval_rows is not None else None
    _log_token_stats(events, {"Tokens, train": train_data, "Tokens, eval": eval_data}, tokenizer, config)

    callback = EventCallback(events, run.stop_request, on_progress, perplexity=strategy.reports_perplexity, clock=clock)
    callbacks = [callback]
    evaluator = strategy.task_evaluator(tokenizer, config, eval_rows)
    task_metrics = TaskMetricsCallback(events, evaluator) if evaluator else None
    if task_metrics:
        callbacks.append(task_metrics)
    if rank() == 0:
        callbacks += tracker_callbacks(
            config, run.root, Settings.from_env().home, events,
            extra_eval=lambda state: eval_extras(task_metrics, strategy.reports_perplexity, state),
        )
    trainer = strategy.create_trainer(model, train_data, eval_data, tokenizer, config, callbacks)
    record_train_rows_if_asked(trainer, train_data, run.root / f"train_rows.rank{rank()}.jsonl")
    if injected_oom_step() is not None:  # the test hook of out-of-memory recovery
        trainer.add_callback(oom_injection_callback(injected_oom_step(), run.root / "oom_injected"))
    for note in strategy.notes:
        events.log(note)
    timing = estimate_at_start(config, model_class, train_rows, eval_rows, tokenizer, strategy, events) if rank() == 0 else None
    return PreparedRun(config, strategy, tokenizer, trainer, callback, task_metrics, eval_data is not None, trainable, total,
                       timing)


def run_training(
    config: TrainingConfig,
    run: RunFiles,
    events: EventLog,
    output_dir: Path,
    *,
    resume: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    clock: JobClock | None = None,
    recovered: list[dict] | None = None,
) -> RunResult:
    """Train one config end to end; raises ModelForgeException subclasses for user errors.

    ``recovered``: the out-of-memory tries before this one (``oom_recovery``), kept in the model's metadata and card.
    """
    started = time.monotonic()
    clock = clock or JobClock()
    checkpoint = _checkpoint_to_resume(run, events) if resume else None
    prepared = prepare_run(config, run, events, on_progress, clock)
    trainer, callback = prepared.trainer, prepared.callback
    if checkpoint:
        events.log(f"Resuming from {checkpoint.name} (the newest complete checkpoint)")
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    _fail_if_diverged(callback, config)
    if callback.stop_requested:
        return RunResult("stopped", {"steps": trainer.state.global_step})

    if prepared.has_eval:
        _phase(events, clock, "evaluating", "Final evaluation on the eval split")
    metrics = _final_metrics(trainer, train_output, callback, prepared.has_eval, prepared.strategy)
    _fail_if_diverged(callback, config)
    if prepared.task_metrics:
        metrics.update(prepared.task_metrics.final_metrics())
    metrics.update(prepared.strategy.extra_metrics(trainer))
    metrics.update(trainable_params=prepared.trainable, total_params=prepared.total, runtime_s=round(time.monotonic() - started, 1))
    _phase(events, clock, "saving", "Saving the model")
    _save_model(trainer, prepared.tokenizer, config, output_dir, metrics, trainable_only=config.finetuning_type == "lora",
                recovered=recovered or [])
    if checkpoint is None and not recovered:  # a whole run from its start: a clean record of this machine's speed
        record_finished(prepared.timing, config, trainer, train_output, process_seconds(), events,
                        prepared.task_metrics.seconds if prepared.task_metrics else 0.0)
    return RunResult("completed", metrics, output_dir)


def _log_token_stats(events: EventLog, prepared: dict[str, Any], tokenizer: Any, config: TrainingConfig) -> None:
    """What the trainer keeps of each split (truncated and dropped rows, trained tokens), as the dataset check says it;
    DatasetValidationError when no training row is left with anything to learn."""
    from ..data.check import nothing_left_error
    from ..data.token_stats import prepared_token_stats

    for split, data in prepared.items():
        stats = prepared_token_stats(data, tokenizer, config.max_seq_length, packing=config.packing) if data is not None else None
        if stats is None:
            continue
        events.log(stats.words(split), level="warning" if stats.dropped else "info")
        nothing_left = nothing_left_error(stats.rows, stats.dropped, config.max_seq_length) if split.endswith("train") else None
        if nothing_left is not None:
            raise nothing_left


def _model_label(model_name: str) -> str:
    """A Hub id as it is; a local folder by its name (never a full internal path)."""
    path = Path(model_name)
    return path.name if path.is_absolute() or path.exists() else model_name


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _checkpoint_to_resume(run: RunFiles, events: EventLog) -> Path:
    """The newest complete checkpoint; half-written ones are logged and removed first."""
    for folder, problem in run.incomplete_checkpoints().items():
        events.log(f"{folder.name} is incomplete ({problem}): ignored and removed.", level="warning")
        shutil.rmtree(folder, ignore_errors=True)
    checkpoint = run.last_checkpoint()
    if checkpoint is None:
        raise TrainingError(
            "This job has no complete checkpoint to resume from: it stopped before its first save finished.",
            "Start the training again instead of resuming it.",
        )
    return checkpoint


_WHAT = {"loss": "loss", "grad_norm": "gradient norm", "eval_loss": "eval loss"}


def _fail_if_diverged(callback: EventCallback, config: TrainingConfig) -> None:
    """A TrainingError in words when the loss or the gradient norm stopped being a finite number."""
    if callback.diverged is None:
        return
    value = callback.diverged["value"]
    became = "NaN" if value != value else "infinite"
    raise TrainingError(
        f"The {_WHAT[callback.diverged['key']]} became {became} at step {callback.diverged['step']}: training "
        f"diverged, so nothing was saved or registered. Lower the learning rate (now {config.learning_rate:g}).",
        f"The usual learning rates are {usual_learning_rates(config).words()}. A lower max_grad_norm, warmup_ratio "
        "0.03-0.1, or bf16 instead of fp16 also help a run that diverges.",
    )


def _final_metrics(trainer: Any, train_output: Any, callback: EventCallback, has_eval: bool, strategy: TrainingStrategy) -> dict:
    """Train loss and steps; with an eval split, the strategy's final metrics and their values at step 0."""
    metrics: dict[str, Any] = {
        "train_loss": round(train_output.training_loss, 4),
        "steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0, 3),
    }
    if not has_eval:
        return metrics
    if not callback.last_eval or callback.last_eval.get("step") != trainer.state.global_step:
        trainer.evaluate()  # the callback records it
    last, first = callback.last_eval or {}, callback.first_eval or {}
    for key, name in strategy.final_metric_keys.items():
        metrics[name] = last.get(key)
        if first.get("step") == 0 and first.get(key) is not None:
            metrics[f"initial_{name}"] = first.get(key)
    return metrics


def _save_model(trainer: Any, tokenizer: Any, config: TrainingConfig, output_dir: Path, metrics: dict, trainable_only: bool,
                recovered: list[dict] = ()) -> None:
    """Write everything into ``<output_dir>.partial`` and rename it into place when complete.

    With several processes, all of them take part in ``save_model`` (FSDP and ZeRO-3 gather the weights
    together); only the main process writes the rest and renames the folder.
    """
    staging = output_dir.with_name(output_dir.name + ".partial")
    if is_main_process():
        shutil.rmtree(staging, ignore_errors=True)
    wait_for_everyone()
    if not is_main_process():
        trainer.save_model(str(staging))  # written only by the first process of another machine: not the model
        shutil.rmtree(staging, ignore_errors=True)
        return
    try:
        trainer.save_model(str(staging))
        tokenizer.save_pretrained(staging)
        metadata = {
            "name": config.run_name,
            "base_model": config.model_name,
            "task": config.task,
            "strategy": config.strategy,
            "provider": config.provider,
            "finetuning_type": config.finetuning_type,
            "adapter": trainable_only,
            "config": config.to_json_dict(),
            "metrics": metrics,
        }
        if recovered:
            metadata["oom_recovery"] = list(recovered)
        write_model_metadata(staging, metadata)
        write_reproduce_record(staging, reproduce_record(config, job_id=output_dir.name))
        # the card from the same metadata (as a rename rewrites it); its snippet loads the final folder
        write_card_from_metadata(staging, metadata, model_path=output_dir)
        staging.rename(output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
