"""What this installation can do: providers (and why one is unavailable), strategies, tasks, and who may
reach which paths (local or shared access)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .. import __version__
from ..providers.provider_factory import ProviderFactory
from ..strategies.strategy_factory import StrategyFactory
from .path_access import PathPolicy


@dataclass(frozen=True)
class SystemInfo:
    """The names that work here; ``to_dict()`` is its JSON shape (``info --json``, ``GET /api/info``)."""

    version: str
    providers: list[str]
    unavailable_providers: dict[str, str]
    strategies: list[str]
    tasks: list[str]
    strategies_by_task: dict[str, list[str]]
    strategy_settings: dict[str, list[str]]  # strategy -> the TrainingConfig fields only it reads (its ``settings``)
    access: dict  # PathPolicy.to_dict(): {"mode": "local"|"shared", "allowed_paths": [...], "description": ...}

    def strategies_for(self, task: str) -> list[str]:
        """The strategies that train ``task`` (none for an unknown task)."""
        return self.strategies_by_task.get(task, [])

    def settings_of(self, strategy: str | None) -> list[str]:
        """The fields only ``strategy`` reads (none for an unknown one)."""
        return self.strategy_settings.get(strategy or "", [])

    def to_dict(self) -> dict:
        return asdict(self)


def system_info(policy: PathPolicy | None = None) -> SystemInfo:
    """Names that work here, and the access mode (``policy``, default this process's), for ``info``,
    ``GET /api/info`` and the UI."""
    availability = ProviderFactory.available()
    return SystemInfo(
        version=__version__,
        providers=[name for name, reason in availability.items() if reason is None],
        unavailable_providers={name: reason for name, reason in availability.items() if reason},
        strategies=StrategyFactory.names(),
        tasks=StrategyFactory.tasks(),
        strategies_by_task={task: StrategyFactory.strategies_for(task) for task in StrategyFactory.tasks()},
        strategy_settings={name: list(StrategyFactory.get_class(name).settings) for name in StrategyFactory.names()},
        access=(policy or PathPolicy.from_env()).to_dict(),
    )
