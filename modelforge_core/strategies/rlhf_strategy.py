"""``RLHFStrategy``: reinforcement learning from human feedback, not DPO renamed.

Stage 1: a reward model learns to score the chosen answer above the rejected one. Stage 2: the
policy (LoRA on the base) samples answers to the prompts, the reward model scores them, and GRPO
(or RLOO, ``rlhf_algorithm``) moves the policy towards higher reward with a KL penalty (``dpo_beta``)
to the base. A reward model from an earlier run can be reused (``reward_model``), which skips stage 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..exceptions import ModelAccessError
from .grpo_strategy import online_rl_kwargs, without_long_prompts, without_reference_copy
from .preference_strategy import PreferenceStrategy
from .rewards import REWARD_MODEL
from .rlhf_trainer import RLHFTrainer
from .training_args import common_training_kwargs


def load_reward_model(path: str) -> Any:
    """The reward model (LoRA adapter and score head) an RLHF run saved in its ``reward_model`` folder."""
    from peft import AutoPeftModelForSequenceClassification

    if not (Path(path) / "adapter_config.json").is_file():
        raise ModelAccessError(
            f"{path} is not a reward model saved by ModelForge.",
            "Give the reward_model folder inside an RLHF model's folder.",
        )
    return AutoPeftModelForSequenceClassification.from_pretrained(path, num_labels=1)


class RLHFStrategy(PreferenceStrategy):
    """Reward model (TRL RewardTrainer) then online policy optimisation (TRL GRPOTrainer or RLOOTrainer)."""

    settings = (
        "reward_model", "reward_max_steps", "reward_batch_size", "rlhf_algorithm", "dpo_beta", "num_generations",
        "max_completion_length",
    )
    final_metric_keys = {"eval_loss": "reward_model_eval_loss"}

    def get_strategy_name(self) -> str:
        return "rlhf"

    def extra_metrics(self, trainer: RLHFTrainer) -> dict[str, Any]:
        """The reward model's held-out accuracy, the policy's reward and KL (``RLHFTrainer.extra_metrics``)."""
        return trainer.extra_metrics()

    def _reward_trainer(self, config: Any, train_dataset: Any, eval_dataset: Any, tokenizer: Any, callbacks: list) -> Any:
        from peft import LoraConfig
        from transformers import AutoModelForSequenceClassification
        from trl import RewardConfig, RewardTrainer

        model = AutoModelForSequenceClassification.from_pretrained(config.model_name, num_labels=1)
        model.config.pad_token_id = tokenizer.pad_token_id
        kwargs = common_training_kwargs(config, self.output_dir / "reward", eval_dataset is not None)
        kwargs.update(max_steps=config.reward_max_steps, eval_on_start=False)
        if config.reward_batch_size:
            kwargs["per_device_train_batch_size"] = config.reward_batch_size
        peft_config = LoraConfig(
            task_type="SEQ_CLS", r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
            target_modules=config.target_modules, exclude_modules=["score"],
        )
        return RewardTrainer(
            model=model, args=RewardConfig(**kwargs, max_length=config.max_seq_length), train_dataset=train_dataset,
            eval_dataset=eval_dataset, processing_class=tokenizer, callbacks=callbacks, peft_config=peft_config,
        )

    def _policy_trainer(self, model: Any, reward_model: Any, config: Any, train_dataset: Any, tokenizer: Any, callbacks: list) -> Any:
        """Stage 2: TRL's GRPOTrainer, or its RLOOTrainer when ``rlhf_algorithm`` is rloo, on the prompts."""
        if config.rlhf_algorithm == "rloo":
            from trl import RLOOConfig as PolicyConfig
            from trl import RLOOTrainer as PolicyTrainer
        else:
            from trl import GRPOConfig as PolicyConfig
            from trl import GRPOTrainer as PolicyTrainer

        args = PolicyConfig(**online_rl_kwargs(config, self.output_dir / "policy", False))
        trainer = PolicyTrainer(
            model=model, reward_funcs=reward_model, args=args, train_dataset=train_dataset,
            processing_class=tokenizer, reward_processing_classes=tokenizer, callbacks=callbacks,
        )
        trainer.reward_func_names = [REWARD_MODEL]  # logged as rewards/reward_model/mean, as GRPO logs it
        return without_reference_copy(trainer)

    def create_trainer(
        self, model: Any, train_dataset: Any, eval_dataset: Any, tokenizer: Any, config: Any, callbacks: list
    ) -> Any:
        make_reward = None
        if not config.reward_model:
            def make_reward():
                return self._reward_trainer(config, train_dataset, eval_dataset, tokenizer, callbacks)
        held_out = None
        if eval_dataset is not None:
            from ..tasks.preference_eval import mean_reward

            prompts = list(eval_dataset["prompt"])[: config.eval_generation_samples]

            def held_out(policy: Any, reward_model: Any) -> float:
                was_training = policy.training
                policy.eval()
                try:
                    return mean_reward(policy, reward_model, tokenizer, prompts, config.max_completion_length)
                finally:
                    policy.train(was_training)

        prompts_data, note = without_long_prompts(train_dataset.select_columns(["prompt"]), tokenizer, config.max_seq_length)
        if note:
            self.notes.append(f"Stage 2: {note}")
        return RLHFTrainer(
            make_reward,
            lambda reward_model: self._policy_trainer(model, reward_model, config, prompts_data, tokenizer, callbacks),
            (lambda: load_reward_model(config.reward_model)) if config.reward_model else None,
            callbacks,
            held_out,
        )
