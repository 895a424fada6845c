"""``DPOStrategy``: Direct Preference Optimization with TRL's DPOTrainer and a LoRA adapter.

The reference model is the base with the adapter disabled (no second copy of the weights).
"""

from __future__ import annotations

from typing import Any

from .preference_strategy import PreferenceStrategy
from .training_args import common_training_kwargs


class DPOStrategy(PreferenceStrategy):
    """Preference pairs -> a policy that prefers the chosen answers, kept near the base by ``dpo_beta``."""

    settings = ("dpo_beta", "dpo_loss_type")
    final_metric_keys = {
        "eval_loss": "eval_loss",
        "eval_rewards/accuracies": "reward_accuracy",
        "eval_rewards/margins": "reward_margin",
    }

    def get_strategy_name(self) -> str:
        return "dpo"

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
