"""``UIContext``: the services the tabs bind to, built once by app.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelforge_core.services.dataset_service import DatasetService
from modelforge_core.services.export_service import ExportService
from modelforge_core.services.hardware_service import HardwareService
from modelforge_core.services.model_catalog import ModelCatalog
from modelforge_core.services.model_service import ModelService
from modelforge_core.services.playground_service import PlaygroundService
from modelforge_core.services.training_service import TrainingService
from modelforge_core.settings import is_offline


@dataclass
class UIContext:
    """Services plus what is known at start: the machine and what works on it."""

    training: TrainingService
    models: ModelService
    datasets: DatasetService
    hardware: HardwareService
    catalog: ModelCatalog
    playground: PlaygroundService
    exports: ExportService
    info: dict
    machine: dict
    samples: dict[str, str] = field(default_factory=dict)

    @property
    def profile(self) -> str:
        return self.machine["compute_profile"]

    @property
    def offline(self) -> bool:
        return is_offline()
