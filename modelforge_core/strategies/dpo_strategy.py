"""``DPOStrategy``: Direct Preference Optimization with TRL's DPOTrainer and a LoRA adapter.

The reference model is the base with the adapter disabled (no second copy of the weights).
Preference rows (prompt, chosen, rejected) may be strings or message lists; with a chat template,
strings become messages so that the model learns in the format it will be chatted with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.formats import RecordShape
from .lora import attach_lora
from .training_args import common_training_kwargs


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
    """prompt/chosen/rejected only; chat turns when the tokenizer has a chat template (DPO and RLHF)."""
    dataset = dataset.select_columns(["prompt", "chosen", "rejected"])
    if getattr(tokenizer, "chat_template", None):
        dataset = dataset.map(to_preference_messages, desc="Formatting preference pairs")
    return dataset


class DPOStrategy:
    """Preference pairs -> a policy that prefers the chosen answers, kept near the base by ``dpo_beta``."""

    supported_tasks = ("text-generation",)
    accepted_shapes = (RecordShape.PREFERENCE,)
    requires_4bit = False
    reports_perplexity = False
    final_metric_keys = {
        "eval_loss": "eval_loss",
        "eval_rewards/accuracies": "reward_accuracy",
        "eval_rewards/margins": "reward_margin",
    }

    def __init__(self, provider: Any = None, output_dir: str | Path | None = None):
        self.provider = provider
        self.output_dir = Path(output_dir) if output_dir else Path("checkpoints")

    def get_strategy_name(self) -> str:
        return "dpo"

    def get_required_dataset_fields(self) -> list[str]:
        return ["prompt", "chosen", "rejected"]

    def prepare_model(self, model: Any, config: Any) -> Any:
        return model if config.finetuning_type == "full" else attach_lora(model, config, self.provider)

    def prepare_dataset(self, dataset: Any, tokenizer: Any, config: Any) -> Any:
        return prepare_preference_dataset(dataset, tokenizer)

    def trainer_config(self, config: Any, has_eval: bool) -> Any:
        from trl import DPOConfig

        return DPOConfig(
            **common_training_kwargs(config, self.output_dir, has_eval),
            max_length=config.max_seq_length,
            beta=config.dpo_beta,
            loss_type=[config.dpo_loss_type],
        )

    def create_trainer(
        self, model: Any, train_dataset: Any, eval_dataset: Any, tokenizer: Any, config: Any, callbacks: list
    ) -> Any:
        from trl import DPOTrainer

        return DPOTrainer(
            model=model,
            ref_model=None,
            args=self.trainer_config(config, eval_dataset is not None),
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=tokenizer,
            callbacks=callbacks,
        )
