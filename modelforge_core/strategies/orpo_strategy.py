"""``ORPOStrategy``: Odds Ratio Preference Optimization with TRL's (experimental) ORPOTrainer and a LoRA adapter.

One loss does the SFT and the preference step together: the language-model loss on the prompt and chosen answer
(TRL computes it over both) plus ``orpo_beta`` x the log-odds-ratio term that lifts the chosen answer's odds over
the rejected one's. No reference model, so each step makes half DPO's forward passes.
"""

from __future__ import annotations

from .preference_strategy import ReferenceFreePreferenceStrategy


class ORPOStrategy(ReferenceFreePreferenceStrategy):
    """Preference pairs -> a policy that learns the chosen answers and prefers them, with no reference model."""

    settings = ("orpo_beta",)
    trl_module = "orpo"
    trl_names = ("ORPOConfig", "ORPOTrainer")
    method_fields = {"beta": "orpo_beta"}
    final_metric_keys = {
        **ReferenceFreePreferenceStrategy.final_metric_keys,
        "eval_nll_loss": "chosen_nll_loss",
        "eval_log_odds_chosen": "log_odds_chosen",
    }

    def get_strategy_name(self) -> str:
        return "orpo"
