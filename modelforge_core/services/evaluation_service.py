"""``EvaluationService``: a registered model, and its base, on a dataset: the task's metrics side by side.

Text generation: answer loss, perplexity, exact match and F1 of generated answers. Summarization:
ROUGE-1/2/L. Extractive QA: exact match and F1. The base is the same weights with the adapter
disabled (no second copy), or the base model itself for a fully fine-tuned model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.pipeline import load_validated_dataset
from ..exceptions import ModelAccessError
from ..heavy_imports import wait_for_imports
from ..model_kinds import ModelKind
from ..providers.model_classes import check_model_serves_task
from ..providers.model_source import read_model_config
from .model_service import ModelService
from .path_access import PathPolicy


def _metrics(model: Any, tokenizer: Any, rows: Any, task: str, seq2seq: bool, max_length: int) -> dict:
    if task == "text-generation":
        from ..tasks.text_generation import evaluate_text_generation

        return evaluate_text_generation(model, tokenizer, rows, max_length)
    from ..evaluation.task_eval import evaluate_task

    return evaluate_task(model, tokenizer, rows, task, seq2seq=seq2seq, max_length=max_length)


class EvaluationService:
    """Evaluates registered models on datasets, in this process (use it from the CLI or a worker)."""

    def __init__(self, models: ModelService, policy: PathPolicy | None = None):
        self.models = models
        self.policy = policy or PathPolicy.from_env()

    def evaluate(self, model_ref: str, dataset: str, samples: int = 64, column_mapping: dict | None = None) -> dict:
        """``{"model": {...}, "base": {...}, "rows": n, "task": ...}``; raises ModelForgeException subclasses."""
        self.policy.check_dataset(dataset)
        wait_for_imports()
        import transformers

        record = self.models.get_model(model_ref)
        folder, config = Path(record["path"]), record["config"]
        if not folder.is_dir():
            raise ModelAccessError(f"The files of model '{record['name']}' are gone ({folder}).", "Delete it from the registry.")
        task, max_length = record["task"], int(config.get("max_seq_length", 512))
        loaded = load_validated_dataset(dataset, task=task, column_mapping=column_mapping, min_rows=1)
        rows = loaded.dataset.select(range(min(samples, len(loaded.dataset))))
        base_id = record["base_model"]
        auto_class = getattr(transformers, check_model_serves_task(base_id, read_model_config(base_id), task))
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        seq2seq = auto_class.__name__ == ModelKind.SEQ2SEQ.auto_class
        base = auto_class.from_pretrained(base_id).eval()
        if (folder / "adapter_config.json").is_file():
            from peft import PeftModel

            tuned = PeftModel.from_pretrained(base, folder).eval()
            result = _metrics(tuned, tokenizer, rows, task, seq2seq, max_length)
            with tuned.disable_adapter():
                base_result = _metrics(tuned, tokenizer, rows, task, seq2seq, max_length)
        else:
            base_result = _metrics(base, tokenizer, rows, task, seq2seq, max_length)
            del base
            result = _metrics(auto_class.from_pretrained(folder).eval(), tokenizer, rows, task, seq2seq, max_length)
        return {"model": result, "base": base_result, "rows": len(rows), "task": task, "name": record["name"]}
