"""``StrategyFactory``: strategy name -> class. Adding a strategy is one file and one line here.

A strategy is listed only once it trains end to end.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import ConfigurationError
from .dpo_strategy import DPOStrategy
from .qlora_strategy import QLoRAStrategy
from .rlhf_strategy import RLHFStrategy
from .sft_strategy import SFTStrategy


class StrategyFactory:
    """Creates strategies by name."""

    _strategies = {
        "sft": SFTStrategy,
        "qlora": QLoRAStrategy,
        "dpo": DPOStrategy,
        "rlhf": RLHFStrategy,
    }

    @classmethod
    def names(cls) -> list[str]:
        return list(cls._strategies)

    @classmethod
    def get_class(cls, name: str) -> type:
        try:
            return cls._strategies[name]
        except KeyError:
            raise ConfigurationError(
                f"Unknown strategy '{name}'. Valid strategies: {', '.join(cls._strategies)}.",
                "Set \"strategy\" to one of the names listed.",
            ) from None

    @classmethod
    def create(cls, name: str, **kwargs: Any):
        """A new strategy (``provider=``, ``output_dir=`` are passed on)."""
        return cls.get_class(name)(**kwargs)

    @classmethod
    def check_task(cls, name: str, task: str) -> None:
        """ConfigurationError when the strategy cannot train the task."""
        supported = cls.get_class(name).supported_tasks
        if task not in supported:
            raise ConfigurationError(
                f"Strategy '{name}' cannot train the task '{task}'; it trains: {', '.join(supported)}.",
                "Pick another strategy or task.",
            )

    @classmethod
    def tasks(cls) -> list[str]:
        """Every task that at least one strategy trains."""
        seen: list[str] = []
        for strategy in cls._strategies.values():
            seen += [t for t in strategy.supported_tasks if t not in seen]
        return seen
