"""The models ModelForge recommends, per task, with their config.json kept here for offline estimates.

Each entry's config is a copy of the model's own ``config.json`` (sources in model_configs/SOURCES.md),
so that recommendations are checked by the memory estimator without the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..schemas.tasks import Task

CONFIG_DIR = Path(__file__).parent / "model_configs"
# Steps of a larger model take minutes on a CPU: recommend only small ones there.
CPU_MAX_PARAMS = 600_000_000


@dataclass(frozen=True)
class CatalogModel:
    """A recommended Hub model for one task."""

    model_id: str
    task: Task
    note: str = ""

    @property
    def config(self) -> dict:
        return _config(self.model_id)


def _entries(task: Task, *items: tuple[str, str]) -> list[CatalogModel]:
    return [CatalogModel(model_id, task, note) for model_id, note in items]


CATALOG: list[CatalogModel] = [
    *_entries(
        Task.TEXT_GENERATION,
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "tiny; fast even on a CPU"),
        ("HuggingFaceTB/SmolLM2-360M-Instruct", "small English instruct model"),
        ("Qwen/Qwen2.5-0.5B-Instruct", "small multilingual instruct model"),
        ("meta-llama/Llama-3.2-1B-Instruct", "gated: accept Meta's licence on the Hub first"),
        ("Qwen/Qwen2.5-1.5B-Instruct", "good quality for its size"),
        ("HuggingFaceTB/SmolLM2-1.7B-Instruct", "English instruct model"),
        ("Qwen/Qwen2.5-3B-Instruct", "strong small model"),
        ("meta-llama/Llama-3.2-3B-Instruct", "gated: accept Meta's licence on the Hub first"),
        ("mistralai/Mistral-7B-Instruct-v0.3", "7B, small vocabulary: light logits"),
        ("Qwen/Qwen2.5-7B-Instruct", "7B multilingual"),
        ("meta-llama/Llama-3.1-8B-Instruct", "gated: accept Meta's licence on the Hub first"),
        ("Qwen/Qwen2.5-14B-Instruct", "14B: 4-bit on a large GPU"),
    ),
    *_entries(
        Task.SUMMARIZATION,
        ("google/flan-t5-small", "encoder-decoder, 77M"),
        ("google/flan-t5-base", "encoder-decoder, 248M"),
        ("facebook/bart-large-cnn", "already a news summarizer"),
        ("google/flan-t5-large", "encoder-decoder, 783M"),
        ("google/flan-t5-xl", "encoder-decoder, 2.8B"),
    ),
    *_entries(
        Task.EXTRACTIVE_QA,
        ("distilbert/distilbert-base-uncased", "small and fast"),
        ("google-bert/bert-base-uncased", "the classic"),
        ("deepset/roberta-base-squad2", "already trained on SQuAD 2.0"),
        ("FacebookAI/roberta-base", "robust English encoder"),
        ("microsoft/deberta-v3-base", "most accurate base-size encoder"),
        ("FacebookAI/roberta-large", "large encoder"),
    ),
]


@cache
def _config(model_id: str) -> dict:
    return json.loads((CONFIG_DIR / (model_id.replace("/", "--") + ".json")).read_text(encoding="utf-8"))


def catalog_for(task: str) -> list[CatalogModel]:
    """The recommended models for ``task``, smallest first."""
    return [entry for entry in CATALOG if entry.task == task]


def known_config(model_id: str) -> dict | None:
    """The stored config.json of a catalog model, or None for other ids."""
    if any(entry.model_id == model_id for entry in CATALOG):
        return _config(model_id)
    return None
