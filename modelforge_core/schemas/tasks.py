"""The tasks ModelForge trains, with every fact about each written once: ``Task`` and ``TASK_TABLE``.

The config's task names and aliases, the record shapes a task trains on, the kind of model that
serves it (and its demo model), its samples, whether it has generation metrics, its Hub pipeline
tag and its label for people all come from here. Importing this module imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from ..data.formats import RecordShape
from ..model_kinds import ModelKind


class Task(str, Enum):
    """A task as configs and JSON spell it."""

    TEXT_GENERATION = "text-generation"
    SUMMARIZATION = "summarization"
    EXTRACTIVE_QA = "extractive-question-answering"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class TaskFacts:
    """What ModelForge knows about one task."""

    label: str  # for people, e.g. in the Hardware tab's task choice
    aliases: tuple[str, ...]  # other names a config may give it
    shapes: tuple[RecordShape, ...]  # the record shapes of its data (strategies: data/shape_strategies.py), in the order errors list them
    model_kind: ModelKind  # the kind of model that usually serves it: its demo model's kind
    suitable_models: str  # the models that can serve it, in words
    pipeline_tag: str  # the Hugging Face Hub pipeline tag on its model cards
    sample_file: str  # the shipped sample dataset that shows the task (its key in SAMPLE_DATASETS is the task)
    demo_sample: str  # the SAMPLE_DATASETS key of the data its demo model visibly learns
    has_task_metrics: bool  # evaluated by generation or spans too (ROUGE, exact match / F1), not only the loss


TASK_TABLE: dict[Task, TaskFacts] = {
    Task.TEXT_GENERATION: TaskFacts(
        label="Text generation (chat, instructions)",
        aliases=("text_generation", "causal-lm"),
        shapes=(
            RecordShape.MODELFORGE,
            RecordShape.ALPACA,
            RecordShape.PROMPT_COMPLETION,
            RecordShape.CONVERSATIONAL,
            RecordShape.SHAREGPT,
            RecordShape.CONVERSATIONAL_TOOLS,
            RecordShape.SHAREGPT_TOOLS,
            RecordShape.TEXT,
            RecordShape.PREFERENCE,
            RecordShape.CONVERSATIONAL_PREFERENCE,
            RecordShape.SHAREGPT_PREFERENCE,
            RecordShape.KTO,
            RecordShape.SUMMARIZATION,
        ),
        model_kind=ModelKind.CAUSAL,
        suitable_models="decoder-only causal language models (Llama, Qwen, Mistral, Gemma, Phi, GPT-2, ...)",
        pipeline_tag="text-generation",
        sample_file="alpaca_sample.jsonl",
        demo_sample="sft",
        has_task_metrics=False,
    ),
    Task.SUMMARIZATION: TaskFacts(
        label="Summarization",
        aliases=(),
        shapes=(RecordShape.SUMMARIZATION, RecordShape.MODELFORGE, RecordShape.ALPACA, RecordShape.PROMPT_COMPLETION),
        model_kind=ModelKind.SEQ2SEQ,
        suitable_models="encoder-decoder models (T5, BART, Pegasus, ...) or decoder-only causal language models (Llama, Qwen, ...)",
        pipeline_tag="summarization",
        sample_file="summarization_sample.jsonl",
        demo_sample="summarization",
        has_task_metrics=True,
    ),
    Task.EXTRACTIVE_QA: TaskFacts(
        label="Extractive question answering",
        aliases=("question-answering", "extractive-qa"),
        shapes=(RecordShape.EXTRACTIVE_QA,),
        model_kind=ModelKind.QA,
        suitable_models="encoder models with a span head (BERT, RoBERTa, DeBERTa, DistilBERT, ELECTRA, ...)",
        pipeline_tag="question-answering",
        sample_file="qa_sample.jsonl",
        demo_sample="qa-demo",
        has_task_metrics=True,
    ),
}
TASKS: tuple[str, ...] = tuple(task.value for task in TASK_TABLE)
TASK_ALIASES: dict[str, str] = {alias: task.value for task, facts in TASK_TABLE.items() for alias in facts.aliases}
# Preference pairs train the pair strategies (DPO, RLHF). Preference data, paired or not (KTO's labelled chats),
# is never supervised fine-tuning data: SFT would learn the rejected or undesirable answers too.
PREFERENCE_PAIR_SHAPES = (RecordShape.PREFERENCE, RecordShape.CONVERSATIONAL_PREFERENCE, RecordShape.SHAREGPT_PREFERENCE)
PREFERENCE_SHAPES = (*PREFERENCE_PAIR_SHAPES, RecordShape.KTO)


def canonical_task_name(name: str) -> str:
    """``name`` as configs store tasks: trimmed, lower case, an alias replaced by its task (unknown names kept)."""
    name = name.strip().lower()
    return TASK_ALIASES.get(name, name)


def task_facts(name: str) -> TaskFacts | None:
    """The row of the task ``name`` names (an alias counts), None for an unknown task."""
    return TASK_TABLE.get(canonical_task_name(name))


def supervised_shapes(tasks: Iterable[str]) -> tuple[RecordShape, ...]:
    """The record shapes supervised fine-tuning learns ``tasks`` from: their shapes but preference data, in order."""
    shapes = (shape for task in tasks for shape in TASK_TABLE[task].shapes if shape not in PREFERENCE_SHAPES)
    return tuple(dict.fromkeys(shapes))
