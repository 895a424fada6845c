"""``ModelKind``: what a model is built to do, and the transformers Auto class that loads each kind.

One vocabulary for the loader, the trainer, the memory estimator, the demo models and the model
card. Importing this module imports nothing heavy.
"""

from __future__ import annotations

from enum import Enum


class ModelKind(str, Enum):
    """The kinds of model ModelForge loads; the value is how files, folders and JSON spell it."""

    CAUSAL = "causal"  # decoder-only language model: generates text
    SEQ2SEQ = "seq2seq"  # encoder-decoder language model: generates text from an input
    QA = "qa"  # encoder with a span head: extractive question answering
    REWARD = "reward"  # sequence classifier with one score: RLHF's reward model

    def __str__(self) -> str:
        return self.value

    @property
    def auto_class(self) -> str:
        """The name of the transformers Auto class that loads this kind, e.g. ``AutoModelForCausalLM``."""
        return AUTO_CLASSES[self]

    @property
    def has_task_head(self) -> bool:
        """True when the model ends in a small task head (spans, a score) rather than logits over the vocabulary."""
        return self in (ModelKind.QA, ModelKind.REWARD)

    @classmethod
    def of_auto_class(cls, auto_class: str) -> ModelKind:
        """The kind an Auto class name loads; ValueError naming the known classes for another name."""
        for kind, name in AUTO_CLASSES.items():
            if name == auto_class:
                return kind
        raise ValueError(f"no model kind is known for {auto_class} (known: {', '.join(AUTO_CLASSES.values())})")


AUTO_CLASSES: dict[ModelKind, str] = {
    ModelKind.CAUSAL: "AutoModelForCausalLM",
    ModelKind.SEQ2SEQ: "AutoModelForSeq2SeqLM",
    ModelKind.QA: "AutoModelForQuestionAnswering",
    ModelKind.REWARD: "AutoModelForSequenceClassification",
}
