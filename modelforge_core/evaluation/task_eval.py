"""Generation- and span-based metrics on a bounded subset of rows: ROUGE for summarization,
exact match and F1 for extractive QA. Used during training (every evaluation) and by ``evaluate``.
"""

from __future__ import annotations

from typing import Any

from ..schemas.tasks import TASK_TABLE, Task
from .metrics import qa_scores, rouge

TASKS_WITH_METRICS = tuple(task.value for task, facts in TASK_TABLE.items() if facts.has_task_metrics)


def evaluate_task(model: Any, tokenizer: Any, rows: Any, task: str, *, seq2seq: bool, max_length: int) -> dict[str, float]:
    """The task's metrics of ``model`` on ``rows`` (already limited by the caller); {} for other tasks."""
    if task == Task.SUMMARIZATION:
        from ..tasks.summarization import documents_and_summaries, generate_summaries

        documents, summaries = documents_and_summaries(rows)
        return rouge(generate_summaries(model, tokenizer, documents, seq2seq=seq2seq, max_length=max_length), summaries)
    if task == Task.EXTRACTIVE_QA:
        from ..tasks.extractive_qa import answer_spans, predict_answers

        predictions = predict_answers(model, tokenizer, list(rows["question"]), list(rows["context"]), max_length)
        return qa_scores(predictions, [answer_spans(row)[0] or [""] for row in rows])
    return {}
