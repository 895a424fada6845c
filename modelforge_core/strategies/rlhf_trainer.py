"""``RLHFTrainer``: one job, two stages, driven like a single trainer by the worker.

Stage 1 trains a reward model on the preference pairs (TRL RewardTrainer, a sequence
classification head with LoRA) and measures its accuracy on the held-out pairs. Stage 2 optimises
the policy online against that reward model with a KL penalty to the base (TRL GRPOTrainer, or
RLOOTrainer with ``rlhf_algorithm`` rloo; the reference is the policy with its adapter disabled).
Both stages report through the same callbacks, with a ``stage`` field on their events.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

REWARD_FOLDER = "reward_model"


def reward_trend(log_history: list[dict]) -> dict[str, float]:
    """An online trainer's mean reward over the first and the last quarter of its training logs (one step's reward is
    noisy) as ``initial_mean_reward`` and ``mean_reward``, and its last KL to the base; {} before any reward."""
    logged = [entry for entry in log_history if "reward" in entry]  # train logs: eval logs have eval_reward
    if not logged:
        return {}
    quarter = max(1, len(logged) // 4)
    head, tail = logged[:quarter], logged[-quarter:]
    return {
        "initial_mean_reward": sum(entry["reward"] for entry in head) / len(head),
        "mean_reward": sum(entry["reward"] for entry in tail) / len(tail),
        "kl": tail[-1].get("kl"),
    }


class RLHFTrainer:
    """Exposes ``train``, ``evaluate``, ``save_model`` and ``state`` like a transformers Trainer."""

    def __init__(self, make_reward_trainer: Callable[[], Any] | None, make_policy_trainer: Callable[[Any], Any],
                 load_reward_model: Callable[[], Any] | None, callbacks: list,
                 held_out_reward: Callable[[Any, Any], float] | None = None):
        self._make_reward_trainer = make_reward_trainer
        self._make_policy_trainer = make_policy_trainer
        self._load_reward_model = load_reward_model
        self._callbacks = callbacks
        self.reward_trainer: Any = None
        self.policy_trainer: Any = None
        self.reward_metrics: dict = {}
        self._held_out_reward = held_out_reward
        self.held_out: dict = {}

    def _stage(self, name: str) -> None:
        for callback in self._callbacks:
            if hasattr(callback, "stage"):
                callback.stage = name
            if hasattr(callback, "events"):
                callback.events.log(f"RLHF stage: {name}")

    def _stopped(self) -> bool:
        return any(getattr(callback, "stop_requested", False) for callback in self._callbacks)

    def train(self, resume_from_checkpoint: str | None = None) -> Any:
        if self._make_reward_trainer is not None:
            self._stage("reward model")
            self.reward_trainer = self._make_reward_trainer()
            self.reward_trainer.train()
            if self.reward_trainer.eval_dataset is not None:
                self.reward_metrics = self.reward_trainer.evaluate()
            reward_model = self.reward_trainer.model
            if self._stopped():
                self.policy_trainer = self.reward_trainer
                return _Output(0.0)
        else:
            reward_model = self._load_reward_model()
        reward_model.eval()
        self._stage("policy")
        self.policy_trainer = self._make_policy_trainer(reward_model)
        policy = self.policy_trainer.model
        if self._held_out_reward is not None:
            self.held_out["initial_held_out_reward"] = self._held_out_reward(policy, reward_model)
        output = self.policy_trainer.train()
        if self._held_out_reward is not None and not self._stopped():
            self.held_out["held_out_reward"] = self._held_out_reward(self.policy_trainer.model, reward_model)
        return output

    @property
    def state(self) -> Any:
        return self.policy_trainer.state

    def evaluate(self) -> dict:
        return self.policy_trainer.evaluate() if self.policy_trainer.eval_dataset is not None else {}

    def extra_metrics(self) -> dict:
        """Reward-model accuracy on the held-out pairs; the policy's mean training reward and KL (first and
        last quarter of the logs); the reward of its greedy answers to held-out prompts, before and after."""
        metrics: dict[str, float] = {}
        if "eval_accuracy" in self.reward_metrics:
            metrics["reward_model_accuracy"] = self.reward_metrics["eval_accuracy"]
        metrics.update(reward_trend(self.policy_trainer.state.log_history))
        metrics.update(self.held_out)
        return metrics

    def save_model(self, output_dir: str) -> None:
        """The policy adapter in ``output_dir``; the reward model (adapter + head) in ``output_dir/reward_model``."""
        self.policy_trainer.save_model(output_dir)
        if self.reward_trainer is not None:
            self.reward_trainer.save_model(str(Path(output_dir) / REWARD_FOLDER))


class _Output:
    def __init__(self, loss: float):
        self.training_loss = loss
