"""``SimPOStrategy``: Simple Preference Optimization, TRL's (experimental) CPOTrainer with ``loss_type="simpo"``.

Pure SimPO, as TRL's docs describe it: ``cpo_alpha`` 0 (no behaviour-cloning term). The reward of an answer is
``simpo_beta`` x its average token log-probability, and the loss asks the chosen answer's reward to beat the
rejected one's by the margin ``simpo_gamma``. No reference model, so each step makes half DPO's forward passes.
"""

from __future__ import annotations

from .preference_strategy import ReferenceFreePreferenceStrategy


class SimPOStrategy(ReferenceFreePreferenceStrategy):
    """Preference pairs -> a policy whose length-normalised likelihood prefers the chosen answers by a margin."""

    settings = ("simpo_beta", "simpo_gamma")
    trl_module = "cpo"
    trl_names = ("CPOConfig", "CPOTrainer")
    method_fields = {"beta": "simpo_beta", "simpo_gamma": "simpo_gamma"}
    method_constants = {"loss_type": "simpo", "cpo_alpha": 0.0}

    def get_strategy_name(self) -> str:
        return "simpo"
