"""``PreferenceStrategy``: what DPO and RLHF share: preference pairs in, a LoRA policy on the base.

Preference rows (prompt, chosen, rejected) may be strings or message lists; with a chat template,
strings become messages so that the model learns in the format it will be chatted with.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.formats import RecordShape
from .lora import attach_lora

if TYPE_CHECKING:
    from ..providers import ModelProvider


def to_preference_messages(row: dict) -> dict:
    """Strings -> one user turn and one assistant turn each; message lists stay as they are."""
    prompt = row["prompt"]
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": row["chosen"]}] if isinstance(row["chosen"], str) else row["chosen"],
        "rejected": [{"role": "assistant", "content": row["rejected"]}] if isinstance(row["rejected"], str) else row["rejected"],
    }


def prepare_preference_dataset(dataset: Any, tokenizer: Any) -> Any:
    """prompt/chosen/rejected only; chat turns when the tokenizer has a chat template."""
    dataset = dataset.select_columns(["prompt", "chosen", "rejected"])
    if getattr(tokenizer, "chat_template", None):
        dataset = dataset.map(to_preference_messages, desc="Formatting preference pairs")
    return dataset


class PreferenceStrategy:
    """The shared part of the preference strategies; a subclass names itself and builds its trainer.

    Its losses are preference losses (no perplexity), it has no task evaluator, and it logs no notes.
    """

    supported_tasks = ("text-generation",)
    accepted_shapes = (RecordShape.PREFERENCE,)
    requires_4bit = False
    reports_perplexity = False

    def __init__(self, provider: ModelProvider, output_dir: str | Path):
        self.provider = provider
        self.output_dir = Path(output_dir)
        self.notes: list[str] = []

    def get_required_dataset_fields(self) -> list[str]:
        return ["prompt", "chosen", "rejected"]

    def prepare_model(self, model: Any, config: Any) -> Any:
        return model if config.finetuning_type == "full" else attach_lora(model, config, self.provider)

    def prepare_dataset(self, dataset: Any, tokenizer: Any, config: Any) -> Any:
        return prepare_preference_dataset(dataset, tokenizer)

    def task_evaluator(self, tokenizer: Any, config: Any, eval_rows: Any) -> Callable[[Any], dict] | None:
        """None: preference training has no ROUGE or EM/F1; its eval metrics come from the trainer."""
        return None

    def extra_metrics(self, trainer: Any) -> dict[str, Any]:
        """None beyond ``final_metric_keys`` unless a subclass measures more."""
        return {}
