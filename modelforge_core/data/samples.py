"""Small datasets shipped with ModelForge, one per task and strategy, so that it works offline."""

from __future__ import annotations

import json
from pathlib import Path

from ..schemas.tasks import TASK_TABLE
from .formats import RecordShape, detect_shape

SAMPLES_DIR = Path(__file__).parent / "samples"

# The demo task first (the Finetune tab starts with it), each task's own sample under the task's
# name (TASK_TABLE), then the QA demo task, chats and preference pairs.
SAMPLE_DATASETS: dict[str, str] = {
    "sft": "demo_task.jsonl",
    **{task.value: facts.sample_file for task, facts in TASK_TABLE.items()},
    "qa-demo": "qa_demo_task.jsonl",
    "conversational": "conversational_sample.jsonl",
    "dpo": "preference_sample.jsonl",
    "kto": "kto_sample.jsonl",
}


def sample_shape(key: str) -> RecordShape:
    """The record shape of bundled sample ``key`` (from its first row's columns)."""
    with (SAMPLES_DIR / SAMPLE_DATASETS[key]).open(encoding="utf-8") as handle:
        return detect_shape(list(json.loads(handle.readline())))


def sample_key_for(strategy: str, preferred: str) -> str | None:
    """The bundled sample that ``strategy`` trains: ``preferred`` (the task's) when it can, else the one named after
    the strategy, else the first it accepts; None when none (or an unknown strategy)."""
    from ..strategies.strategy_factory import StrategyFactory

    if strategy not in StrategyFactory.names():
        return None
    accepted = StrategyFactory.get_class(strategy).accepted_shapes
    order = [preferred, strategy, *SAMPLE_DATASETS]
    return next((key for key in dict.fromkeys(order) if key in SAMPLE_DATASETS and sample_shape(key) in accepted), None)


def sample_dataset_paths() -> dict[str, str]:
    """Sample key -> absolute path, for the sample files that exist."""
    paths = {key: SAMPLES_DIR / name for key, name in SAMPLE_DATASETS.items()}
    return {key: str(path.resolve()) for key, path in paths.items() if path.is_file()}
