"""``ModelCatalog``: the models the Finetune tab offers: demo models, recommended Hub models, local ones.

Recommended Hub models are listed only when the Hub can be reached; offline, the demo model (built
here, no download) comes first and is preselected.
"""

from __future__ import annotations

import threading

from ..demo import DEMO_VERSION, build_demo_models
from ..heavy_imports import wait_for_imports
from ..settings import Settings, is_offline

RECOMMENDED = {
    "cpu": ["HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-0.5B-Instruct"],
    "low_end": ["Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", "meta-llama/Llama-3.2-1B-Instruct"],
    "mid_range": ["Qwen/Qwen2.5-3B-Instruct", "meta-llama/Llama-3.2-3B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct"],
    "high_end": ["Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "mistralai/Mistral-7B-Instruct-v0.3"],
}


DEMO_LABELS = {
    "causal-lm": "Demo causal LM (tiny, offline; text generation, DPO, RLHF)",
    "seq2seq": "Demo seq2seq model (tiny, offline; summarization)",
    "qa-encoder": "Demo QA encoder (tiny, offline; extractive QA)",
}
DEMO_KIND_FOR_TASK = {"summarization": "seq2seq", "extractive-question-answering": "qa-encoder"}


class ModelCatalog:
    """Model choices, and the demo models built once (in the background at app start)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._build_lock = threading.Lock()

    def demo_model_path(self, kind: str = "causal-lm") -> str:
        """Where a demo model is (or will be) built; known before it exists."""
        return str(self.settings.demo_dir / f"{kind}-v{DEMO_VERSION}")

    def demo_model_for_task(self, task: str) -> str:
        """The demo model that serves ``task``."""
        return self.demo_model_path(DEMO_KIND_FOR_TASK.get(task, "causal-lm"))

    def ensure_demo_models(self) -> dict[str, str]:
        """Build the demo models if needed (concurrent callers wait for the same build)."""
        wait_for_imports()  # a request may get here while the app still imports transformers
        with self._build_lock:
            return build_demo_models(self.settings)

    def ensure_ready(self, model_name: str) -> None:
        """Before training: if ``model_name`` is a demo model, make sure it has been built."""
        if model_name.rstrip("/") in {self.demo_model_path(kind) for kind in DEMO_LABELS}:
            self.ensure_demo_models()

    def is_ready(self, model_name: str) -> bool:
        """False while ``model_name`` is a demo model that is not built yet."""
        name = model_name.rstrip("/")
        kinds = [kind for kind in DEMO_LABELS if self.demo_model_path(kind) == name]
        return not kinds or (self.settings.demo_dir / f"{kinds[0]}-v{DEMO_VERSION}" / "modelforge-demo.json").is_file()

    def choices(self, profile: str) -> list[tuple[str, str]]:
        """(label, value) pairs: the demo model, then recommended Hub models when online."""
        items = [(label, self.demo_model_path(kind)) for kind, label in DEMO_LABELS.items()]
        if not is_offline():
            items += [(f"{model_id} (recommended for {profile})", model_id) for model_id in RECOMMENDED.get(profile, [])]
        return items
