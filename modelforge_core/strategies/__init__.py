"""Training strategies: how a model is prepared and trained (SFT with LoRA, QLoRA, DPO, RLHF)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..data.formats import RecordShape


@runtime_checkable
class TrainingStrategy(Protocol):
    """Everything the core reads from a strategy; a new one is written from this protocol alone.

    The factory builds one per run as ``Strategy(provider=..., output_dir=...)``: the run's
    ModelProvider (its ``attach_lora`` adds adapters) and the folder for checkpoints. The pipeline
    then calls ``prepare_model``, ``prepare_dataset`` (train rows, then eval rows), ``task_evaluator``,
    ``create_trainer``, logs ``notes``, trains, and reads ``final_metric_keys`` and ``extra_metrics``.
    """

    supported_tasks: ClassVar[tuple[str, ...]]
    """The tasks it trains (config ``task`` values); read on the class, before any run."""

    accepted_shapes: ClassVar[tuple[RecordShape, ...]]
    """The dataset record shapes it trains on; read on the class when a config is checked."""

    settings: ClassVar[tuple[str, ...]]
    """The TrainingConfig fields only this strategy reads (e.g. ``dpo_beta``); the Finetune form shows them when
    the strategy is picked. ``()`` when it reads only the common fields."""

    requires_4bit: bool
    """True to load the base model in 4-bit nf4 whatever the config's ``use_4bit`` says (QLoRA)."""

    reports_perplexity: bool
    """True when its eval loss is a language-model loss, so that exp(eval loss) is logged as perplexity."""

    final_metric_keys: dict[str, str]
    """Trainer eval metric -> its name in the run's final metrics (the step-0 value as ``initial_<name>``)."""

    notes: list[str]
    """Lines for the run's log about what ``create_trainer`` chose (e.g. padding-free batches on or off)."""

    def get_strategy_name(self) -> str:
        """The name used in configs, e.g. ``"sft"``."""

    def get_required_dataset_fields(self) -> list[str]:
        """Field names a dataset must have (any one of the accepted shapes)."""

    def prepare_model(self, model: Any, config: Any) -> Any:
        """Attach adapters / quantization preparation; return the model to train."""

    def prepare_dataset(self, dataset: Any, tokenizer: Any, config: Any) -> Any:
        """Turn validated rows (a ``datasets.Dataset``) into the format the trainer expects."""

    def task_evaluator(self, tokenizer: Any, config: Any, eval_rows: Any) -> Callable[[Any], dict] | None:
        """A function model -> task metrics (ROUGE, EM/F1) run at each evaluation, or None for none.

        ``eval_rows`` are the held-out rows before ``prepare_dataset`` (None without an eval split).
        """

    def create_trainer(
        self, model: Any, train_dataset: Any, eval_dataset: Any, tokenizer: Any, config: Any, callbacks: list
    ) -> Any:
        """A ready-to-run trainer, used as a transformers ``Trainer`` is.

        The core calls ``train(resume_from_checkpoint=...)``, ``evaluate()`` and ``save_model(folder)``
        and reads ``state.global_step`` and ``state.epoch``; ``callbacks`` must be passed to it.
        """

    def extra_metrics(self, trainer: Any) -> dict[str, Any]:
        """Final metrics beyond ``final_metric_keys``, read from the trained ``trainer``; ``{}`` for none."""
