"""``UIContext``: the services the tabs bind to, built once by app.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelforge_core.services.dataset_service import DatasetService
from modelforge_core.services.evaluation_service import EvaluationService
from modelforge_core.services.export_service import ExportService
from modelforge_core.services.hardware_service import HardwareService
from modelforge_core.services.info import SystemInfo
from modelforge_core.services.machine import Machine
from modelforge_core.services.model_catalog import ModelCatalog
from modelforge_core.services.model_service import ModelService
from modelforge_core.services.playground_service import PlaygroundService
from modelforge_core.services.training_service import TrainingService


@dataclass(frozen=True)
class UIContext:
    """Services plus what is known at start: what works here, and the machine as detected then.

    Shared by every browser session, so nothing here changes after start: a session that detects
    the machine again keeps its own reading (see ``hardware_tab.SessionHardware``).
    """

    training: TrainingService
    models: ModelService
    datasets: DatasetService
    hardware: HardwareService
    catalog: ModelCatalog
    playground: PlaygroundService
    exports: ExportService
    evaluation: EvaluationService
    info: SystemInfo
    machine: Machine
    samples: dict[str, str] = field(default_factory=dict)
