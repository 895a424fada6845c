"""Training strategies: how a model is prepared and trained (SFT with LoRA, QLoRA, ...)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class TrainingStrategy(Protocol):
    """The seed's strategy protocol; strategies are thin wrappers over TRL trainers."""

    def get_strategy_name(self) -> str:
        """The name used in configs, e.g. ``"sft"``."""

    def prepare_model(self, model: Any, config: Any) -> Any:
        """Attach adapters / quantization preparation; return the model to train."""

    def prepare_dataset(self, dataset: Any, tokenizer: Any, config: Any) -> Any:
        """Turn validated rows into the format the trainer expects."""

    def create_trainer(
        self, model: Any, train_dataset: Any, eval_dataset: Any, tokenizer: Any, config: Any, callbacks: list
    ) -> Any:
        """A ready-to-run trainer (``trainer.train()``)."""

    def get_required_dataset_fields(self) -> list[str]:
        """Field names a dataset must have (any one of the accepted shapes)."""
