"""``PreferenceStrategy``: what the preference strategies share: preference pairs in, a LoRA policy on the base.

Every pair shape (prompt/chosen/rejected, messages-style and ShareGPT-style pairs) becomes TRL's
preference format through ``preference_rows``: with a chat template, a prompt of messages and one-turn
answers, so that the model learns in the format it will be chatted with; without one, strings.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.formats import RecordShape, detect_shape
from ..data.formatting import SHAREGPT_ROLES, render_plain
from ..exceptions import DatasetValidationError
from ..schemas.tasks import PREFERENCE_PAIR_SHAPES
from .lora import attach_lora
from .training_args import common_training_kwargs

if TYPE_CHECKING:
    import datasets

    from ..providers import ModelProvider

Messages = list[dict[str, str]]
PROMPT_COLUMNS = {
    RecordShape.PREFERENCE: "prompt",
    RecordShape.CONVERSATIONAL_PREFERENCE: "messages",
    RecordShape.SHAREGPT_PREFERENCE: "conversations",
}


def as_messages(value: Any, role: str) -> Messages:
    """A string (one ``role`` turn), one message or ShareGPT turn, or a list of them, as {role, content} messages."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    turns = [value] if isinstance(value, dict) else value
    return [
        {"role": SHAREGPT_ROLES.get(t["from"], t["from"]), "content": t["value"]} if t.get("from") is not None
        else {"role": t["role"], "content": t["content"]}  # Arrow fills keys other rows have with None: dropped
        for t in turns
    ]


def preference_rows(dataset: datasets.Dataset, shape: RecordShape, chat: bool) -> datasets.Dataset:
    """Validated rows of a preference-pair ``shape`` as TRL's prompt/chosen/rejected columns (the others dropped).

    ``chat``: the prompt as {role, content} messages, chosen and rejected as lists of the assistant's message.
    Otherwise strings: a string prompt as it is, prompt turns rendered with role labels (``render_plain``),
    answers as their text. Raises DatasetValidationError for a shape that is not preference pairs.
    """
    shape = RecordShape(shape)
    if shape not in PREFERENCE_PAIR_SHAPES:
        raise DatasetValidationError(
            f"Records of shape '{shape.value}' are not preference pairs (a prompt, a chosen and a rejected answer).",
            "Give a dataset with prompt (or messages, or conversations), chosen and rejected columns.",
        )
    prompt_column = PROMPT_COLUMNS[shape]

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        prompt = as_messages(row[prompt_column], "user")
        chosen, rejected = as_messages(row["chosen"], "assistant"), as_messages(row["rejected"], "assistant")
        if chat:
            return {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        prompt_text = row[prompt_column] if isinstance(row[prompt_column], str) else render_plain(prompt)
        return {"prompt": prompt_text, "chosen": _text(chosen), "rejected": _text(rejected)}

    rows = dataset.map(convert, remove_columns=dataset.column_names, desc="Formatting preference pairs")
    return rows.select_columns(["prompt", "chosen", "rejected"])


def _text(messages: Messages) -> str:
    return "\n\n".join(message["content"] for message in messages)


def prepare_preference_dataset(dataset: Any, tokenizer: Any) -> Any:
    """``preference_rows`` of the dataset's detected shape; chat turns when the tokenizer has a chat template."""
    return preference_rows(dataset, detect_shape(dataset.column_names), chat=bool(getattr(tokenizer, "chat_template", None)))


def experimental_trl(module: str, *names: str) -> tuple[Any, ...]:
    """``names`` from ``trl.experimental.<module>`` (ORPO and CPO live there in the pinned trl 1.14.2).

    The one place those imports are made. TRL warns on every experimental import that the API may change; the trl
    version is pinned in requirements.txt, so the warning is silenced the way TRL documents
    (``TRL_EXPERIMENTAL_SILENCE=1``), unless the environment already sets that variable.
    """
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    loaded = importlib.import_module(f"trl.experimental.{module}")
    return tuple(getattr(loaded, name) for name in names)


class PreferenceStrategy:
    """The shared part of the preference strategies; a subclass names itself and builds its trainer.

    Its losses are preference losses (no perplexity), it has no task evaluator, and it logs no notes.
    """

    supported_tasks = ("text-generation",)
    accepted_shapes = PREFERENCE_PAIR_SHAPES
    settings: tuple[str, ...] = ()
    requires_4bit = False
    reports_perplexity = False

    def __init__(self, provider: ModelProvider, output_dir: str | Path):
        self.provider = provider
        self.output_dir = Path(output_dir)
        self.notes: list[str] = []

    def get_required_dataset_fields(self) -> list[str]:
        return ["prompt|messages|conversations", "chosen", "rejected"]

    def prepare_model(self, model: Any, config: Any) -> Any:
        return model if config.finetuning_type == "full" else attach_lora(model, config, self.provider)

    def prepare_dataset(self, dataset: Any, tokenizer: Any, config: Any) -> Any:
        return prepare_preference_dataset(dataset, tokenizer)

    def task_evaluator(self, tokenizer: Any, config: Any, eval_rows: Any) -> Callable[[Any], dict] | None:
        """None: preference training has no ROUGE or EM/F1; its eval metrics come from the trainer."""
        return None

    def extra_metrics(self, trainer: Any) -> dict[str, Any]:
        """None beyond ``final_metric_keys`` unless a subclass measures more."""
        return {}


class ReferenceFreePreferenceStrategy(PreferenceStrategy):
    """ORPO and SimPO: preference pairs scored by the policy alone, through one of TRL's experimental trainers.

    No reference model: each step runs one forward pass over the chosen and rejected answers, half of DPO's (whose
    reference pass is the base with the adapter disabled). An answer's reward is beta x its average token
    log-probability, so TRL's rewards/accuracies is how often the chosen answer is the likelier one per token.
    A subclass names the trainer (``trl_module``, ``trl_names``: config class, trainer class) and its arguments:
    ``method_fields`` (trainer config argument -> the TrainingConfig field it takes) and ``method_constants``.
    """

    trl_module: str
    trl_names: tuple[str, str]
    method_fields: dict[str, str]
    method_constants: dict[str, Any] = {}
    final_metric_keys = {
        "eval_loss": "eval_loss",
        "eval_rewards/accuracies": "reward_accuracy",
        "eval_rewards/margins": "reward_margin",
        "eval_logps/chosen": "chosen_logp",
        "eval_logps/rejected": "rejected_logp",
    }

    def method_arguments(self, config: Any) -> dict[str, Any]:
        """The trainer config's arguments of this method (beta, loss type, ...), from the TrainingConfig."""
        return {**self.method_constants, **{name: getattr(config, field) for name, field in self.method_fields.items()}}

    def create_trainer(
        self, model: Any, train_dataset: Any, eval_dataset: Any, tokenizer: Any, config: Any, callbacks: list
    ) -> Any:
        config_class, trainer_class = experimental_trl(self.trl_module, *self.trl_names)
        kwargs = common_training_kwargs(config, self.output_dir, eval_dataset is not None)
        # their batches hold chosen_/rejected_input_ids, no input_ids: the Trainer would count 0 tokens, log
        # num_input_tokens_seen 0 and warn at every step
        kwargs["include_num_input_tokens_seen"] = "no"
        args = config_class(**kwargs, max_length=config.max_seq_length, **self.method_arguments(config))
        return trainer_class(
            model=model,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=tokenizer,
            callbacks=callbacks,
        )
