"""Small datasets shipped with ModelForge, one per task and strategy, so that it works offline."""

from __future__ import annotations

from pathlib import Path

from ..schemas.tasks import TASK_TABLE

SAMPLES_DIR = Path(__file__).parent / "samples"

# The demo task first (the Finetune tab starts with it), each task's own sample under the task's
# name (TASK_TABLE), then the QA demo task, chats and preference pairs.
SAMPLE_DATASETS: dict[str, str] = {
    "sft": "demo_task.jsonl",
    **{task.value: facts.sample_file for task, facts in TASK_TABLE.items()},
    "qa-demo": "qa_demo_task.jsonl",
    "conversational": "conversational_sample.jsonl",
    "dpo": "preference_sample.jsonl",
}


def sample_dataset_paths() -> dict[str, str]:
    """Sample key -> absolute path, for the sample files that exist."""
    paths = {key: SAMPLES_DIR / name for key, name in SAMPLE_DATASETS.items()}
    return {key: str(path.resolve()) for key, path in paths.items() if path.is_file()}
