"""What this installation can do: providers (and why one is unavailable), strategies, tasks."""

from __future__ import annotations

from .. import __version__
from ..providers.provider_factory import ProviderFactory
from ..strategies.strategy_factory import StrategyFactory


def system_info() -> dict:
    """Names that work here, for ``info``, ``GET /api/info`` and the UI's choices."""
    availability = ProviderFactory.available()
    return {
        "version": __version__,
        "providers": [name for name, reason in availability.items() if reason is None],
        "unavailable_providers": {name: reason for name, reason in availability.items() if reason},
        "strategies": StrategyFactory.names(),
        "tasks": StrategyFactory.tasks(),
        "strategies_by_task": {task: [s for s in StrategyFactory.names() if task in StrategyFactory.get_class(s).supported_tasks] for task in StrategyFactory.tasks()},
    }
