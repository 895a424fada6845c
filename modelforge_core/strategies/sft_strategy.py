"""``SFTStrategy``: supervised fine-tuning, LoRA by default, for every task and model kind.

- causal LMs (text generation, prompt-formatted summarization): TRL's SFTTrainer on rows tokenized
  by ``data.token_masks`` (cached): loss on every assistant reply (the last only with ``mask_history``),
  on every token when ``completion_only_loss`` is off;
- encoder-decoders (summarization): Seq2SeqTrainer, labels from the summary only;
- encoders with a span head (extractive QA): Trainer on start/end positions.
``finetuning_type="full"`` trains every weight, for small models.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.formats import RecordShape, detect_shape
from ..model_kinds import ModelKind
from ..providers.varlen_attention import ATTENTION_NAME
from ..schemas.tasks import supervised_shapes
from .lora import attach_lora, model_kind
from .padding_free import RowLengthCollator
from .training_args import common_training_kwargs

if TYPE_CHECKING:
    from ..providers import ModelProvider


class SFTStrategy:
    """Supervised fine-tuning: prompt -> completion pairs, chats, plain text, documents, QA spans."""

    supported_tasks = ("text-generation", "summarization", "extractive-question-answering")
    accepted_shapes = supervised_shapes(supported_tasks)
    settings: tuple[str, ...] = ()
    requires_4bit = False
    reports_perplexity = True

    def __init__(self, provider: ModelProvider, output_dir: str | Path):
        self.provider = provider
        self.output_dir = Path(output_dir)
        self.kind = ModelKind.CAUSAL
        self.notes: list[str] = []

    def get_strategy_name(self) -> str:
        return "sft"

    def get_required_dataset_fields(self) -> list[str]:
        return ["instruction|input|prompt|messages|conversations|text|document|context", "output|completion|summary|answers"]

    @property
    def final_metric_keys(self) -> dict[str, str]:
        keys = {"eval_loss": "eval_loss"}
        if self.kind is not ModelKind.QA:
            keys["eval_perplexity"] = "perplexity"
        if self.kind is ModelKind.CAUSAL:
            keys["eval_mean_token_accuracy"] = "token_accuracy"
        return keys

    def prepare_model(self, model: Any, config: Any) -> Any:
        self.kind = model_kind(model)
        self.reports_perplexity = self.kind is not ModelKind.QA
        if config.finetuning_type == "full":
            if config.gradient_checkpointing:
                model.gradient_checkpointing_enable()
            return model
        return attach_lora(model, config, self.provider)

    def prepare_dataset(self, dataset: Any, tokenizer: Any, config: Any) -> Any:
        if self.kind is ModelKind.SEQ2SEQ:
            from ..tasks.summarization import tokenize_seq2seq

            return tokenize_seq2seq(dataset, tokenizer, config.max_seq_length, config.task)
        if self.kind is ModelKind.QA:
            from ..tasks.extractive_qa import tokenize_qa

            return tokenize_qa(dataset, tokenizer, config.max_seq_length)
        return tokenize_sft_rows(dataset, tokenizer, config)

    def task_evaluator(self, tokenizer: Any, config: Any, eval_rows: Any) -> Callable[[Any], dict] | None:
        """ROUGE or EM/F1 on up to ``eval_generation_samples`` eval rows, for the tasks that have them."""
        from ..evaluation.task_eval import TASKS_WITH_METRICS, evaluate_task

        if eval_rows is None or config.task not in TASKS_WITH_METRICS:
            return None
        if config.task == "summarization" and detect_shape(eval_rows.column_names) is not RecordShape.SUMMARIZATION:
            return None  # ROUGE needs document/summary rows
        rows = eval_rows.select(range(min(config.eval_generation_samples, len(eval_rows))))
        seq2seq = self.kind is ModelKind.SEQ2SEQ
        return lambda model: evaluate_task(model, tokenizer, rows, config.task, seq2seq=seq2seq, max_length=config.max_seq_length)

    def extra_metrics(self, trainer: Any) -> dict[str, Any]:
        """None: the eval metrics (``final_metric_keys``) and the task evaluator's say it all."""
        return {}

    def _liger(self, model: Any, config: Any) -> bool:
        """Liger Kernel's fused kernels where they apply (``strategies.liger``)."""
        from .liger import liger_problem

        problem = liger_problem(config, model, _output_layer_adapted(model))
        if problem is None:
            self.notes.append("Liger kernels: on (fused RMSNorm, RoPE, SwiGLU and linear cross-entropy)")
            return True
        if config.liger_kernel == "on":
            self.notes.append(f"Liger kernels: off (asked for, but {problem})")
        elif config.liger_kernel == "auto" and problem.startswith(("LoRA", "no Liger")):  # where it would have run
            self.notes.append(f"Liger kernels: off ({problem})")
        return False

    def _loss_type(self, model: Any, config: Any, liger: bool) -> str:
        """TRL's chunked loss (same loss; the output layer skips prompt tokens) unless LoRA wraps the output layer;
        with Liger its fused linear cross-entropy does the same."""
        if liger:
            self.notes.append("Chunked loss: Liger's fused linear cross-entropy instead")
            return "nll"
        chunked = bool(config.chunked_loss) and not _output_layer_adapted(model)
        self.notes.append(f"Chunked loss: {'on' if chunked else 'off'}")
        return "chunked_nll" if chunked else "nll"

    def _padding_free(self, trainer: Any, model: Any, config: Any) -> None:
        """Switch TRL's collator to padding-free batches where that is lossless for this model.

        TRL refuses ``padding_free`` without packing because it would then skip truncation; so the
        trainer is built padded (TRL tokenizes and truncates to max_seq_length), then its own
        collator is switched to padding-free.
        """
        import dataclasses

        from .padding_free import PACKED_TOKENS_LIMIT, packing_problem, padding_free_applies

        if not config.padding_free or config.packing:
            self.notes.append("Padding-free batches: off")
            return
        if not padding_free_applies(config, getattr(model.config, "_attn_implementation", None)):
            self.notes.append(
                f"Padding-free batches: off (batch size x max_seq_length is over {PACKED_TOKENS_LIMIT} tokens: "
                "the attention mask over the whole batch would cost more than the padding saves)"
            )
            return
        problem = packing_problem(model)
        if problem:
            self.notes.append(f"Padding-free batches: off ({problem})")
            return
        trainer.data_collator = dataclasses.replace(trainer.data_collator, padding_free=True)
        if getattr(model.config, "_attn_implementation", None) == ATTENTION_NAME:
            trainer.data_collator = RowLengthCollator(trainer.data_collator)
        trainer.padding_free = True
        self.notes.append("Padding-free batches: on (checked on this model)")

    def create_trainer(
        self, model: Any, train_dataset: Any, eval_dataset: Any, tokenizer: Any, config: Any, callbacks: list
    ) -> Any:
        self.notes = []
        kwargs = common_training_kwargs(config, self.output_dir, eval_dataset is not None)
        if self.kind is ModelKind.SEQ2SEQ:
            from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments

            return Seq2SeqTrainer(
                model=model, args=Seq2SeqTrainingArguments(**kwargs), train_dataset=train_dataset,
                eval_dataset=eval_dataset, data_collator=DataCollatorForSeq2Seq(tokenizer, model=model),
                processing_class=tokenizer, callbacks=callbacks,
            )
        if self.kind is ModelKind.QA:
            from transformers import Trainer, TrainingArguments, default_data_collator

            return Trainer(
                model=model, args=TrainingArguments(**kwargs), train_dataset=train_dataset, eval_dataset=eval_dataset,
                data_collator=default_data_collator, processing_class=tokenizer, callbacks=callbacks,
            )
        from trl import SFTConfig, SFTTrainer

        liger = self._liger(model, config)
        args = SFTConfig(
            **kwargs, max_length=config.max_seq_length, packing=config.packing,
            completion_only_loss=config.completion_only_loss, dataset_text_field="text",
            loss_type=self._loss_type(model, config, liger), use_liger_kernel=liger,
        )
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
            processing_class=tokenizer, callbacks=callbacks,
        )
        self._padding_free(trainer, model, config)
        return trainer


def tokenize_sft_rows(dataset: Any, tokenizer: Any, config: Any) -> Any:
    """Validated rows -> ``input_ids`` and ``completion_mask`` for a causal LM, cached in the data folder: what
    SFTTrainer then truncates to ``max_seq_length`` (dropping rows left with nothing to learn) and trains on."""
    from ..data.token_cache import cache_file_for
    from ..data.token_masks import tokenize_rows
    from ..settings import get_settings

    shape = detect_shape(dataset.column_names)
    chat = bool(getattr(tokenizer, "chat_template", None))
    settings = {"shape": shape.value, "chat": chat, "mask_history": config.mask_history,
                "completion_only_loss": config.completion_only_loss}
    cache = cache_file_for(get_settings().home, dataset, tokenizer, settings)
    return tokenize_rows(
        dataset, shape, tokenizer, chat=chat, mask_history=config.mask_history,
        completion_only_loss=config.completion_only_loss, cache_file=cache,
    )


def _output_layer_adapted(model: Any) -> bool:
    """True when LoRA wraps the output layer (TRL's chunked loss needs a plain one)."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return head is None or type(head).__module__.startswith("peft")
