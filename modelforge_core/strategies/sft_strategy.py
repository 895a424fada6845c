"""``SFTStrategy``: supervised fine-tuning with TRL's SFTTrainer, LoRA by default.

The loss covers the completion (the assistant's answer) only, unless ``completion_only_loss`` is
off. ``finetuning_type="full"`` trains every weight, for small models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.formats import RecordShape, detect_shape
from .lora import attach_lora
from .training_args import common_training_kwargs

SFT_SHAPES = (
    RecordShape.MODELFORGE,
    RecordShape.ALPACA,
    RecordShape.PROMPT_COMPLETION,
    RecordShape.CONVERSATIONAL,
    RecordShape.SHAREGPT,
    RecordShape.TEXT,
    RecordShape.SUMMARIZATION,
)


class SFTStrategy:
    """Supervised fine-tuning: prompt -> completion pairs, chats, or plain text."""

    supported_tasks = ("text-generation", "summarization")
    accepted_shapes = SFT_SHAPES
    requires_4bit = False
    reports_perplexity = True
    final_metric_keys = {"eval_loss": "eval_loss", "eval_perplexity": "perplexity", "eval_mean_token_accuracy": "token_accuracy"}

    def __init__(self, provider: Any = None, output_dir: str | Path | None = None):
        self.provider = provider
        self.output_dir = Path(output_dir) if output_dir else Path("checkpoints")

    def get_strategy_name(self) -> str:
        return "sft"

    def get_required_dataset_fields(self) -> list[str]:
        return ["instruction|input|prompt|messages|conversations|text", "output|completion|summary"]

    def prepare_model(self, model: Any, config: Any) -> Any:
        if config.finetuning_type == "full":
            if config.gradient_checkpointing:
                model.gradient_checkpointing_enable()
            return model
        return attach_lora(model, config, self.provider)

    def prepare_dataset(self, dataset: Any, tokenizer: Any, config: Any) -> Any:
        from ..data.formatting import to_training_records

        chat = bool(getattr(tokenizer, "chat_template", None))
        return to_training_records(dataset, detect_shape(dataset.column_names), config.task, chat=chat)

    def trainer_config(self, config: Any, output_dir: Path, has_eval: bool) -> Any:
        from trl import SFTConfig

        return SFTConfig(
            **common_training_kwargs(config, output_dir, has_eval),
            max_length=config.max_seq_length,
            packing=config.packing,
            completion_only_loss=config.completion_only_loss,
            dataset_text_field="text",
        )

    def create_trainer(
        self, model: Any, train_dataset: Any, eval_dataset: Any, tokenizer: Any, config: Any, callbacks: list
    ) -> Any:
        from trl import SFTTrainer

        return SFTTrainer(
            model=model,
            args=self.trainer_config(config, self.output_dir, eval_dataset is not None),
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=tokenizer,
            callbacks=callbacks,
        )

