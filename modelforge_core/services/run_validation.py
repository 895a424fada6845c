"""Checks a training config before a job exists: names, task support, the dataset, the model.

Cheap checks come first: a dataset or model path that a shared app may not read (``PathPolicy``) is
refused before anything is read; the model check reads only ``config.json`` (no weights), and never
waits long on the network. A record shape the strategy cannot train is refused in the words of
``data/shape_strategies.shape_refusal``. Nothing is written anywhere.
"""

from __future__ import annotations

from pathlib import Path

from ..data.pipeline import load_training_splits
from ..data.shape_strategies import shape_refusal
from ..exceptions import DatasetValidationError
from ..providers.provider_factory import ProviderFactory
from ..schemas import TrainingConfig, parse_training_config
from ..strategies.rewards import check_rewards
from ..strategies.strategy_factory import StrategyFactory
from .path_access import PathPolicy


def _absolute_if_local(value: str) -> str:
    path = Path(value).expanduser()
    return str(path.resolve()) if path.exists() else value


def validate_run(config: TrainingConfig | dict | str, policy: PathPolicy | None = None) -> TrainingConfig:
    """The checked config, with local paths made absolute; raises a ModelForgeException subclass.

    ``policy`` (default: this process's settings) says which local paths may be read.
    """
    if not isinstance(config, TrainingConfig):
        config = parse_training_config(config)
    policy = policy or PathPolicy.from_env()
    policy.check_dataset(config.dataset)
    for model in (config.model_name, config.reward_model):
        if model:
            policy.check_model(model)
    provider = ProviderFactory.create(config.provider)
    StrategyFactory.check_task(config.strategy, config.task)
    if "rewards" in StrategyFactory.get_class(config.strategy).settings:
        check_rewards(config, has_reference=True)  # names and weights now; the rows' references once they are read
    provider.check_available()

    loaded = load_training_splits(config)  # also splits: a split that leaves a side empty is refused here
    refusal = shape_refusal(loaded.shape, config.strategy, config.task)
    if refusal is not None:
        raise DatasetValidationError(f"{config.dataset}: {refusal.message}", refusal.hint)
    provider.validate_model_access(config.model_name, config.task)
    return config.model_copy(
        update={"dataset": _absolute_if_local(config.dataset), "model_name": _absolute_if_local(config.model_name)}
    )
