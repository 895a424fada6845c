"""Small datasets shipped with ModelForge, one per task and strategy, so that it works offline."""

from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).parent / "samples"

SAMPLE_DATASETS: dict[str, str] = {
    "sft": "demo_task.jsonl",
    "text-generation": "alpaca_sample.jsonl",
    "conversational": "conversational_sample.jsonl",
    "dpo": "preference_sample.jsonl",
    "summarization": "summarization_sample.jsonl",
    "extractive-question-answering": "qa_sample.jsonl",
    "qa-demo": "qa_demo_task.jsonl",
}


def sample_dataset_paths() -> dict[str, str]:
    """Sample key -> absolute path, for the sample files that exist."""
    paths = {key: SAMPLES_DIR / name for key, name in SAMPLE_DATASETS.items()}
    return {key: str(path.resolve()) for key, path in paths.items() if path.is_file()}
