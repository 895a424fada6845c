"""``KTOStrategy``: Kahneman-Tversky Optimization with TRL's KTOTrainer and a LoRA adapter.

KTO learns from single answers labelled desirable or not (``RecordShape.KTO``), so thumbs-up/down data trains it
without pairs; preference pairs train it too, each split into a desirable row (chosen) and an undesirable row
(rejected). The reference model is the base: with LoRA, TRL keeps a frozen copy of the new adapter (zero, so the
base) instead of a second copy of the weights, as for DPO. Unless the config sets them, the two loss weights balance
an uneven label count as the KTO paper recommends.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.formats import RecordShape, detect_shape, resolve_fields
from ..data.formatting import render_plain
from ..data.kto_labels import label_counts, one_class_error
from ..data.shape_strategies import KTO_NEEDS
from ..exceptions import DatasetValidationError
from ..schemas.tasks import PREFERENCE_PAIR_SHAPES
from .preference_strategy import Messages, PreferenceStrategy, as_messages, preference_rows
from .training_args import common_training_kwargs

if TYPE_CHECKING:
    from ..providers import ModelProvider

# desirable_weight * n_desirable / (undesirable_weight * n_undesirable) should lie in this range (Eq. 8 of the paper).
BALANCED_RATIO = (1.0, 4 / 3)


def kto_rows(dataset: Any, shape: RecordShape, chat: bool) -> Any:
    """Validated rows of the KTO shape or of a preference-pair shape as TRL's prompt/completion/label columns.

    A pair becomes two rows: its chosen answer labelled True, its rejected answer labelled False. ``chat``: prompts
    and completions as {role, content} messages; otherwise strings (prompt turns rendered with role labels).
    Raises DatasetValidationError for any other shape.
    """
    from trl.data_utils import unpair_preference_dataset

    shape = RecordShape(shape)
    if shape in PREFERENCE_PAIR_SHAPES:
        return unpair_preference_dataset(preference_rows(dataset, shape, chat), desc="Splitting pairs into KTO rows")
    if shape is not RecordShape.KTO:
        raise DatasetValidationError(
            f"Records of shape '{shape.value}' are not KTO data: KTO {KTO_NEEDS.removeprefix('it ')}.",
            "Give a dataset with a chat (messages, conversations, or prompt and completion) and a true/false label "
            "column, or with prompt, chosen and rejected columns.",
        )
    columns = resolve_fields(shape, dataset.column_names)
    chat_column, label_column = columns["chat"], columns["label"]

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        if chat_column == "prompt":
            prompt, completion = as_messages(row["prompt"], "user"), as_messages(row["completion"], "assistant")
        else:
            turns = as_messages(row[chat_column], "user")
            prompt, completion = turns[:-1], turns[-1:]  # the validator made the last turn the assistant's answer
        if chat:
            return {"prompt": prompt, "completion": completion, "label": row[label_column]}
        plain_prompt = row["prompt"] if isinstance(row.get(chat_column), str) else render_plain(prompt)
        return {"prompt": plain_prompt, "completion": _answer_text(completion), "label": row[label_column]}

    rows = dataset.map(convert, remove_columns=dataset.column_names, desc="Formatting KTO rows")
    return rows.select_columns(["prompt", "completion", "label"])


def _answer_text(messages: Messages) -> str:
    return "\n\n".join(message["content"] for message in messages)


def balancing_weights(desirable: int, undesirable: int) -> tuple[float, float]:
    """(desirable_weight, undesirable_weight): 1.0 for the larger class, and for the smaller one the weight that
    brings desirable_weight * desirable / (undesirable_weight * undesirable) into BALANCED_RATIO (rounded to 0.01)."""
    if desirable < undesirable:
        return math.ceil(100 * undesirable / desirable) / 100, 1.0
    if undesirable < desirable:
        return 1.0, math.floor(100 * desirable / undesirable) / 100
    return 1.0, 1.0


def weights_note(desirable: int, undesirable: int, weights: tuple[float, float], chosen_by_config: bool) -> str:
    """The run-log line saying which loss weights KTO uses on these counts, and why."""
    counts = f"KTO: {desirable} desirable and {undesirable} undesirable training rows"
    desirable_weight, undesirable_weight = weights
    if not chosen_by_config:
        if desirable == undesirable:
            return f"{counts}; weights 1.0 and 1.0: the classes are even."
        name, value = ("desirable_weight", desirable_weight) if desirable < undesirable else ("undesirable_weight", undesirable_weight)
        return f"{counts}; {name} {value!r} balances them (the other weight 1.0)."
    ratio = desirable_weight * desirable / (undesirable_weight * undesirable)
    low, high = BALANCED_RATIO
    advice = "" if low <= ratio <= high + 0.005 else (
        f"; outside the balanced range {low:g}-{high:.2f} that the KTO paper recommends "
        "(clear kto_desirable_weight and kto_undesirable_weight to have them balanced)"
    )
    return (
        f"{counts}; desirable_weight {desirable_weight!r} and undesirable_weight {undesirable_weight!r} as set: "
        f"weighted ratio {ratio:.2f}{advice}."
    )


class KTOStrategy(PreferenceStrategy):
    """Answers labelled desirable or not (or preference pairs) -> a policy that raises the desirable answers'
    likelihood over the base's and lowers the undesirable ones', kept near the base by ``dpo_beta``."""

    accepted_shapes = (RecordShape.KTO, *PREFERENCE_PAIR_SHAPES)
    settings = ("dpo_beta", "kto_desirable_weight", "kto_undesirable_weight")
    final_metric_keys = {
        "eval_loss": "eval_loss",
        "eval_rewards/margins": "reward_margin",
        "eval_kl": "kl",
    }

    def __init__(self, provider: ModelProvider, output_dir: str | Path):
        super().__init__(provider, output_dir)
        self._from_pairs = False  # set by prepare_dataset: the rows were preference pairs

    def get_strategy_name(self) -> str:
        return "kto"

    def get_required_dataset_fields(self) -> list[str]:
        return ["messages|conversations|prompt+completion", "label", "or: prompt|messages|conversations, chosen, rejected"]

    def prepare_dataset(self, dataset: Any, tokenizer: Any, config: Any) -> Any:
        """``kto_rows`` of the dataset's shape (chat turns with a chat template), shuffled with the seed.

        TRL's KTOTrainer reads rows in order and estimates its KL term from the other rows of each batch, so the
        shuffle mixes desirable and undesirable rows (and the two rows of a pair) across batches.
        """
        shape = detect_shape(dataset.column_names)
        self._from_pairs = shape in PREFERENCE_PAIR_SHAPES
        rows = kto_rows(dataset, shape, chat=bool(getattr(tokenizer, "chat_template", None)))
        return rows.shuffle(seed=config.seed).flatten_indices()

    def loss_weights(self, train_dataset: Any, config: Any) -> tuple[float, float]:
        """The (desirable, undesirable) loss weights for these training rows, noted for the run log.

        Raises DatasetValidationError when the rows hold one class only.
        """
        desirable, undesirable = label_counts(train_dataset["label"])
        refusal = one_class_error(desirable, undesirable, "training rows")
        if refusal is not None:
            raise refusal
        set_by_config = config.kto_desirable_weight is not None or config.kto_undesirable_weight is not None
        if set_by_config:
            weights = (config.kto_desirable_weight or 1.0, config.kto_undesirable_weight or 1.0)
        else:
            weights = balancing_weights(desirable, undesirable)
        self.notes.append(weights_note(desirable, undesirable, weights, set_by_config))
        return weights

    def trainer_config(self, config: Any, has_eval: bool, weights: tuple[float, float]) -> Any:
        from trl import KTOConfig

        return KTOConfig(
            **common_training_kwargs(config, self.output_dir, has_eval),
            max_length=config.max_seq_length,
            beta=config.dpo_beta,
            desirable_weight=weights[0],
            undesirable_weight=weights[1],
        )

    def create_trainer(
        self, model: Any, train_dataset: Any, eval_dataset: Any, tokenizer: Any, config: Any, callbacks: list
    ) -> Any:
        from trl import KTOTrainer

        if self._from_pairs:
            held_out = f" and {len(eval_dataset)} eval rows" if eval_dataset is not None else ""
            self.notes.append(
                f"KTO: each preference pair split into a desirable row (its chosen answer) and an undesirable row (its "
                f"rejected answer): {len(train_dataset)} training rows{held_out}."
            )
        weights = self.loss_weights(train_dataset, config)
        return KTOTrainer(
            model=model,
            ref_model=None,
            args=self.trainer_config(config, eval_dataset is not None, weights),
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=tokenizer,
            callbacks=callbacks,
        )
