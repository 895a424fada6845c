"""``ModelCatalog``: the models the Finetune tab offers: demo models, recommended Hub models, local ones.

Recommended Hub models are listed only when the Hub can be reached; offline, the demo model (built
here, no download) comes first and is preselected.
"""

from __future__ import annotations

import threading

from ..demo import BUILDERS, DEMO_TRAINING, build_demo_models, demo_model_folder, is_demo_model_built
from ..heavy_imports import import_in_background, imports_ready, wait_for_imports
from ..model_kinds import ModelKind
from ..schemas.tasks import TASK_TABLE
from ..settings import Settings, is_offline

RECOMMENDED = {
    "cpu": ["HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-0.5B-Instruct"],
    "low_end": ["Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", "meta-llama/Llama-3.2-1B-Instruct"],
    "mid_range": ["Qwen/Qwen2.5-3B-Instruct", "meta-llama/Llama-3.2-3B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct"],
    "high_end": ["Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "mistralai/Mistral-7B-Instruct-v0.3"],
}


DEMO_LABELS = {
    ModelKind.CAUSAL: "Demo causal LM (tiny, offline; text generation, DPO, RLHF)",
    ModelKind.SEQ2SEQ: "Demo seq2seq model (tiny, offline; summarization)",
    ModelKind.QA: "Demo QA encoder (tiny, offline; extractive QA)",
}


def demo_kind_for_task(task: str) -> ModelKind:
    """The kind of the demo model that serves ``task`` (its TASK_TABLE model kind; causal for another task)."""
    facts = TASK_TABLE.get(task)
    return facts.model_kind if facts else ModelKind.CAUSAL


class ModelCatalog:
    """Model choices, and the demo models built once (in the background at app start)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._build_lock = threading.Lock()

    def demo_model_path(self, kind: ModelKind = ModelKind.CAUSAL) -> str:
        """Where a demo model is (or will be) built; known before it exists."""
        return str(demo_model_folder(self.settings, kind))

    def demo_model_paths(self) -> list[str]:
        """Where every demo model is (or will be) built."""
        return [self.demo_model_path(kind) for kind in BUILDERS]

    def demo_model_for_task(self, task: str) -> str:
        """The demo model that serves ``task``."""
        return self.demo_model_path(demo_kind_for_task(task))

    def ensure_demo_models(self) -> dict[ModelKind, str]:
        """Build the demo models if needed (concurrent callers wait for the same build)."""
        wait_for_imports()  # a request may get here while the app still imports transformers
        with self._build_lock:
            return build_demo_models(self.settings)

    @property
    def demo_training(self) -> dict:
        """The settings under which the demo model visibly learns the demo task (a copy)."""
        return dict(DEMO_TRAINING)

    def prepare_in_background(self, after: threading.Event) -> threading.Thread:
        """Once ``after`` is set, import torch and transformers in a daemon thread, then build the demo models.

        The app calls this at start; from this call on, whatever needs those libraries waits for them.
        """
        return import_in_background(then=self.ensure_demo_models, after=after)

    @staticmethod
    def libraries_ready() -> bool:
        """False while the app still imports the training libraries (its first seconds): reading a dataset waits."""
        return imports_ready()

    def ensure_ready(self, model_name: str) -> None:
        """Before training: if ``model_name`` is a demo model, make sure it has been built."""
        if model_name.rstrip("/") in self.demo_model_paths():
            self.ensure_demo_models()

    def is_ready(self, model_name: str) -> bool:
        """False while using ``model_name`` would wait: the libraries still load, or it is a demo model not built yet."""
        name = model_name.rstrip("/")
        kinds = [kind for kind in BUILDERS if self.demo_model_path(kind) == name]
        return self.libraries_ready() and (not kinds or is_demo_model_built(self.settings, kinds[0]))

    @staticmethod
    def offline() -> bool:
        """True when the Hub cannot be reached (or HF_HUB_OFFLINE is set): Hub models cannot download now."""
        return is_offline()

    def choices(self, profile: str) -> list[tuple[str, str]]:
        """(label, value) pairs: the demo model, then recommended Hub models when online."""
        items = [(label, self.demo_model_path(kind)) for kind, label in DEMO_LABELS.items()]
        if not is_offline():
            items += [(f"{model_id} (recommended for {profile})", model_id) for model_id in RECOMMENDED.get(profile, [])]
        return items
