"""``StrategyFactory``: strategy name -> class.

Adding a strategy: write a class with every member of ``TrainingStrategy`` (modelforge_core/strategies/
__init__.py), built as ``MyStrategy(provider=..., output_dir=...)``, in its own file, then register it
with one line at the bottom of this file (training runs in a worker process that imports this
file, so a registration made elsewhere must be in a module the worker imports too)::

    StrategyFactory.register("my_strategy", MyStrategy)

Configs then name it (``"strategy": "my_strategy"``). A strategy is listed only once it trains end to end.
"""

from __future__ import annotations

from ..exceptions import ConfigurationError
from ..registry import Registry
from . import TrainingStrategy
from .dpo_strategy import DPOStrategy
from .grpo_strategy import GRPOStrategy
from .kto_strategy import KTOStrategy
from .orpo_strategy import ORPOStrategy
from .qlora_strategy import QLoRAStrategy
from .rlhf_strategy import RLHFStrategy
from .sft_strategy import SFTStrategy
from .simpo_strategy import SimPOStrategy


class StrategyFactory(Registry[TrainingStrategy], kind="strategy", plural="strategies", error=ConfigurationError):
    """Creates strategies by name (``create(name, provider=..., output_dir=...)``) and says what they train."""

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
    def strategies_for(cls, task: str) -> list[str]:
        """The registered strategies that train ``task``, in registration order (sft, qlora, dpo, kto, orpo, simpo, grpo, rlhf)."""
        return [name for name in cls.names() if task in cls.get_class(name).supported_tasks]

    @classmethod
    def tasks(cls) -> list[str]:
        """Every task that at least one strategy trains."""
        seen: list[str] = []
        for name in cls.names():
            seen += [t for t in cls.get_class(name).supported_tasks if t not in seen]
        return seen


StrategyFactory.register("sft", SFTStrategy)
StrategyFactory.register("qlora", QLoRAStrategy)
StrategyFactory.register("dpo", DPOStrategy)
StrategyFactory.register("kto", KTOStrategy)
StrategyFactory.register("orpo", ORPOStrategy)
StrategyFactory.register("simpo", SimPOStrategy)
StrategyFactory.register("grpo", GRPOStrategy)
StrategyFactory.register("rlhf", RLHFStrategy)
