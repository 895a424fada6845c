"""``GRPOStrategy``: online RL with rule-based rewards (TRL GRPOTrainer, LoRA on the base).

Each prompt gets ``num_generations`` sampled answers; the rewards (``rewards.py``, by name and weight) score them
against the row's reference answer, and GRPO moves the policy towards the answers that beat their group's mean, with
a KL penalty (``dpo_beta``) to the base (the policy with its adapter disabled). Its rows carry a reference: Alpaca,
input/output, prompt/completion and chats (the last assistant turn is the reference, the turns before it the
prompt); a GSM8K-style question/answer file maps to prompt/completion with ``column_mapping``. Prompts are rendered
as SFT renders them: chat turns with a chat template, plain text without.
The held-out score is the exact-match accuracy of greedy answers to the eval rows, at step 0 and after training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data.formats import RecordShape, detect_shape
from ..data.formatting import to_training_records
from ..exceptions import DatasetValidationError
from .lora import attach_lora
from .rewards import REFERENCE_COLUMN, REWARD_MODEL, check_rewards, completion_text, reward_functions
from .training_args import common_training_kwargs

if TYPE_CHECKING:
    import datasets

    from ..providers import ModelProvider

REFERENCE_SHAPES = (
    RecordShape.MODELFORGE, RecordShape.ALPACA, RecordShape.PROMPT_COMPLETION, RecordShape.CONVERSATIONAL,
    RecordShape.SHAREGPT,
)


def grpo_rows(dataset: datasets.Dataset, shape: RecordShape, chat: bool) -> datasets.Dataset:
    """Validated rows as GRPO's ``prompt`` (messages when ``chat``, else text) and ``reference`` (the answer's text)."""
    records = to_training_records(dataset, RecordShape(shape), "text-generation", chat=chat)
    return records.map(
        lambda row: {REFERENCE_COLUMN: completion_text(row["completion"])}, remove_columns=["completion"],
        desc="Formatting prompts and references",
    )


def prompt_lengths(prompts: list, tokenizer: Any) -> list[int]:
    """Tokens of each prompt as the policy reads it: chats through the chat template with the assistant's turn opened."""
    texts = [
        tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True) if isinstance(prompt, list)
        else prompt for prompt in prompts
    ]
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []


def without_long_prompts(rows: datasets.Dataset, tokenizer: Any, max_length: int) -> tuple[datasets.Dataset, str | None]:
    """``rows`` without the prompts longer than ``max_length`` tokens (TRL samples after the whole prompt and would
    not cut it), and a note saying how many were left out; DatasetValidationError when none is left."""
    lengths = prompt_lengths(list(rows["prompt"]), tokenizer)
    keep = [index for index, length in enumerate(lengths) if length <= max_length]
    if len(keep) == len(lengths):
        return rows, None
    if not keep:
        raise DatasetValidationError(
            f"Every prompt is longer than max_seq_length ({max_length} tokens; the shortest has {min(lengths)}): the "
            "answers are sampled after the whole prompt, so a prompt is never cut.",
            f"Raise max_seq_length to at least {min(lengths)}, or shorten the prompts.",
        )
    note = (
        f"{len(lengths) - len(keep)} of {len(lengths)} prompts are longer than max_seq_length ({max_length} tokens) and "
        f"are left out: the answers are sampled after the whole prompt, so a prompt is never cut. Raise max_seq_length "
        f"to {max(lengths)} to keep them all."
    )
    return rows.select(keep), note


def online_rl_kwargs(config: Any, output_dir: Path, has_eval: bool) -> dict:
    """The GRPOConfig / RLOOConfig arguments of a TrainingConfig: batches of whole answer groups, the KL weight, the
    group size, the answer length, sampling at temperature 1."""
    kwargs = common_training_kwargs(config, output_dir, has_eval)
    group = config.num_generations
    for key in ("per_device_train_batch_size", "per_device_eval_batch_size"):
        batch = max(kwargs[key], group)
        kwargs[key] = batch - batch % group  # a batch holds whole groups of answers to one prompt
    return {**kwargs, "beta": config.dpo_beta, "num_generations": group,
            "max_completion_length": config.max_completion_length, "temperature": 1.0}


def without_reference_copy(trainer: Any) -> Any:
    """``trainer`` without the frozen copy of the adapter that TRL makes to be the reference ("ref"): the adapter
    here is attached fresh (LoRA's B at zero), so the base with adapters disabled is that reference already, and the
    copy would only cost memory and a ``ref`` folder in the saved model."""
    peft_config = getattr(trainer.model, "peft_config", None)
    if isinstance(peft_config, dict) and "ref" in peft_config:
        trainer.model.delete_adapter("ref")
    return trainer


class GRPOStrategy:
    """Prompts with reference answers -> a policy whose sampled answers score higher on the configured rewards."""

    supported_tasks = ("text-generation",)
    accepted_shapes = REFERENCE_SHAPES
    settings = (
        "rewards", "reward_format_pattern", "reward_tolerance", "reward_length_target", "num_generations",
        "max_completion_length", "dpo_beta", "reward_model",
    )
    requires_4bit = False
    reports_perplexity = False
    final_metric_keys = {"eval_reward": "eval_reward"}

    def __init__(self, provider: ModelProvider, output_dir: str | Path):
        self.provider = provider
        self.output_dir = Path(output_dir)
        self.notes: list[str] = []

    def get_strategy_name(self) -> str:
        return "grpo"

    def get_required_dataset_fields(self) -> list[str]:
        return ["instruction|input|prompt|messages|conversations", "output|completion (the reference answer)"]

    def prepare_model(self, model: Any, config: Any) -> Any:
        return model if config.finetuning_type == "full" else attach_lora(model, config, self.provider)

    def prepare_dataset(self, dataset: Any, tokenizer: Any, config: Any) -> Any:
        """``grpo_rows`` with prompts up to max_seq_length tokens (``without_long_prompts``, its note logged);
        ConfigurationError when the rewards do not fit the config or the rows (``check_rewards``)."""
        rows = grpo_rows(dataset, detect_shape(dataset.column_names), chat=bool(getattr(tokenizer, "chat_template", None)))
        check_rewards(config, REFERENCE_COLUMN in rows.column_names)
        rows, note = without_long_prompts(rows, tokenizer, config.max_seq_length)
        if note:
            self.notes.append(note)
        return rows

    def task_evaluator(self, tokenizer: Any, config: Any, eval_rows: Any) -> Callable[[Any], dict] | None:
        """Exact match (the reward's rule) of greedy answers to up to ``eval_generation_samples`` eval rows."""
        if eval_rows is None:
            return None
        rows = eval_rows.select(range(min(config.eval_generation_samples, len(eval_rows))))
        rows = grpo_rows(rows, detect_shape(rows.column_names), chat=bool(getattr(tokenizer, "chat_template", None)))
        from ..tasks.text_generation import generate_answers

        score = reward_functions(config, ["exact_match"])[0]
        prompts, references = list(rows["prompt"]), list(rows[REFERENCE_COLUMN])

        def evaluate(model: Any) -> dict:
            answers = generate_answers(model, tokenizer, prompts, config.max_seq_length)
            return {"exact_match": sum(score(answers, references)) / len(references)}

        return evaluate

    def create_trainer(
        self, model: Any, train_dataset: Any, eval_dataset: Any, tokenizer: Any, config: Any, callbacks: list
    ) -> Any:
        from trl import GRPOConfig, GRPOTrainer

        weights = check_rewards(config, REFERENCE_COLUMN in train_dataset.column_names)
        names = [name for name in weights if name != REWARD_MODEL] + [name for name in weights if name == REWARD_MODEL]
        functions: list[Any] = reward_functions(config, names)
        processing: list[Any] = [None] * len(functions)
        if REWARD_MODEL in weights:
            from .rlhf_strategy import load_reward_model

            functions.append(load_reward_model(config.reward_model).eval())
            processing.append(tokenizer)
        self.notes.append("Rewards: " + ", ".join(f"{name} x {weights[name]:g}" for name in names))
        if eval_dataset is not None:  # GRPO evaluates by sampling num_generations answers per prompt: kept cheap
            eval_dataset = eval_dataset.select(range(min(config.eval_generation_samples, len(eval_dataset))))
        args = GRPOConfig(**online_rl_kwargs(config, self.output_dir, eval_dataset is not None),
                          reward_weights=[float(weights[name]) for name in names])
        trainer = GRPOTrainer(
            model=model, reward_funcs=functions, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
            processing_class=tokenizer, reward_processing_classes=processing, callbacks=callbacks,
        )
        trainer.reward_func_names = names  # the user's names in the logs (TRL names a reward model after its base)
        return without_reference_copy(trainer)

    def extra_metrics(self, trainer: Any) -> dict[str, Any]:
        """The mean training reward over the first and the last quarter of the logs, and the last KL."""
        from .rlhf_trainer import reward_trend

        return reward_trend(trainer.state.log_history)
