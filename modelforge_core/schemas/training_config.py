"""``TrainingConfig``: one training run, as the seed's JSON plus what a TRL user expects.

The seed's example config is valid input as it is. Field-level rules live here; rules that need
the providers or strategies (names, task support) are checked by the training service.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..exceptions import ConfigurationError
from ..names import model_name_problem, name_from
from .compute_profiles import PROFILES, with_profile_defaults
from .field_bounds import field_bounds
from .tasks import TASKS, canonical_task_name

COMPUTE_PROFILES = PROFILES
# pydantic's error types for a broken gt / ge / lt / le constraint
BOUND_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")
# the characters of a {{placeholder}}'s key (data/placeholders.py finds them in the data)
PLACEHOLDER_KEY = r"[A-Za-z0-9_.-]+"


class TrainingConfig(BaseModel):
    """Everything one fine-tuning run needs. Unknown keys are refused (they are usually typos)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, protected_namespaces=())

    # What to train, on what, how (the seed's fields)
    task: str = Field("text-generation", description="What the model will do: " + ", ".join(TASKS) + ".")
    model_name: str = Field(..., min_length=1, description="Hub id (org/name) or a local model folder.")
    provider: str = Field("huggingface", description="Who loads the model: huggingface or unsloth.")
    strategy: str = Field(
        "sft", description="How to train: sft (LoRA, or every weight with finetuning_type full), qlora (4-bit + LoRA); "
        "preference pairs: dpo, orpo, simpo (no reference model); kto (answers labelled desirable or not, or pairs); "
        "grpo (prompts with a reference answer, rule-based rewards); rlhf (a reward model, then RL against it)."
    )
    dataset: str = Field(..., min_length=1, description="A .jsonl/.json/.csv/.parquet file or a Hub dataset id.")
    compute_specs: Literal["cpu", "low_end", "mid_range", "high_end"] | None = Field(
        None, description="A compute profile (cpu, low_end, mid_range, high_end): fills batch size, accumulation, "
        "sequence length, 4-bit and gradient checkpointing where the config leaves them out."
    )
    eval_split: float = Field(0.2, ge=0, lt=1, description="Share of rows held out for evaluation, in [0, 1).")
    eval_steps: int | None = Field(None, gt=0, description="Evaluate every N steps (default: once per epoch).")
    num_train_epochs: float = Field(1.0, gt=0, description="Passes over the training rows.")
    lora_r: int = Field(16, gt=0, description="LoRA rank: adapter size. 8-64 is typical.")
    lora_alpha: int = Field(32, gt=0, description="LoRA scaling; often 2 x lora_r.")
    use_4bit: bool = Field(False, description="Load the base model in 4-bit nf4 (QLoRA).")
    bf16: bool = Field(False, description="Train in bfloat16 (GPUs from Ampere on).")

    # What a TRL user expects
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate.")
    per_device_train_batch_size: int = Field(
        4, gt=0, validation_alias=AliasChoices("per_device_train_batch_size", "batch_size"),
        description="Rows per step per device.",
    )
    per_device_eval_batch_size: int = Field(8, gt=0, description="Rows per evaluation step per device.")
    gradient_accumulation_steps: int = Field(1, gt=0, description="Steps whose gradients add up before an update.")
    max_seq_length: int = Field(
        512, ge=16, validation_alias=AliasChoices("max_seq_length", "max_length"), description="Longer rows are truncated."
    )
    max_steps: int = Field(-1, ge=-1, description="Stop after this many updates (-1: run all epochs).")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA path, in [0, 1).")
    target_modules: str | list[str] = Field("all-linear", description="Layers that get adapters ('all-linear' or names).")
    finetuning_type: Literal["lora", "full"] = Field("lora", description="lora: train adapters; full: every weight (small models).")
    completion_only_loss: bool = Field(True, description="Compute the loss on the answer only, not the prompt.")
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Share of steps spent warming up the learning rate.")
    lr_scheduler_type: str = Field("linear", description="linear, cosine, constant, constant_with_warmup, ...")
    optim: str = Field("adamw_torch", description="Optimizer name as transformers knows it.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    seed: int = Field(42, description="Random seed for the split, the adapter init and the data order.")
    logging_steps: int = Field(5, gt=0, description="Log the loss every N steps.")
    save_steps: int = Field(50, gt=0, description="Save a resumable checkpoint every N steps.")
    packing: bool = Field(False, description="Pack short rows into full-length sequences.")
    padding_free: bool = Field(
        True, description="Fast path (causal LMs, SFT): a batch's rows end to end without padding, attention kept within "
        "each row; checked on the model, off where it would mix rows. Turn off for padded batches."
    )
    chunked_loss: bool = Field(
        True, description="Fast path (causal LMs, SFT): the output layer skips prompt tokens and the loss runs in chunks; "
        "same loss, less time and memory. Turn off for the plain loss."
    )
    attention: Literal["auto", "varlen", "sdpa", "eager"] = Field(
        "auto", description="Attention kernel. auto: on a CUDA GPU in bf16/fp16, varlen (PyTorch's variable-length flash "
        "kernel: padding-free rows without a mask over the batch); elsewhere sdpa (PyTorch's scaled dot-product attention)."
    )
    liger_kernel: Literal["auto", "on", "off"] = Field(
        "auto", description="Liger Kernel's fused RMSNorm, RoPE, SwiGLU and linear cross-entropy (causal-LM SFT on a CUDA "
        "GPU, Hugging Face provider). auto: on where liger-kernel is installed and the architecture is supported."
    )
    fill_gpu: bool = Field(
        True, description="On a CUDA GPU of 40 GB or more (A100, H100, H200 class), train larger micro-batches with fewer "
        "accumulation steps (the same rows per update) and skip gradient checkpointing when the memory estimate allows."
    )
    gradient_checkpointing: bool = Field(False, description="Recompute activations: less memory, slower.")
    fp16: bool = Field(False, description="Train in float16 (older GPUs).")
    eval_generation_samples: int = Field(
        32, gt=0, description="Eval rows used for generation-based metrics (ROUGE, exact match, F1); keeps evaluation cheap."
    )
    dpo_beta: float = Field(0.1, gt=0, description="DPO, KTO, RLHF stage 2 and GRPO: strength of the pull towards the base "
                            "model (the KL weight).")
    dpo_loss_type: str = Field("sigmoid", description="DPO loss: sigmoid (the paper's), ipo, hinge, robust, ...")
    reward_model: str | None = Field(
        None, description="A reward model saved by an earlier RLHF run (its reward_model folder). RLHF: skips stage 1. "
        "GRPO: one more reward, weighted as rewards says (1.0 by default)."
    )
    reward_max_steps: int = Field(-1, ge=-1, description="RLHF stage 1: reward-model training steps (-1: num_train_epochs).")
    reward_batch_size: int | None = Field(None, gt=0, description="RLHF stage 1: pairs per step (default: the batch size).")
    num_generations: int = Field(4, ge=2, description="GRPO and RLHF stage 2: answers sampled per prompt and compared "
                                 "(the group size); the batch holds whole groups.")
    max_completion_length: int = Field(64, gt=0, description="GRPO and RLHF stage 2: longest answer sampled per prompt, in "
                                       "tokens.")
    # KTO settings
    kto_desirable_weight: float | None = Field(
        None, gt=0, description="KTO: weight of the loss on desirable answers. Leave both KTO weights empty to have the "
        "rarer class weighted up until the two balance, as the KTO paper recommends; set one and the other is 1.0."
    )
    kto_undesirable_weight: float | None = Field(
        None, gt=0, description="KTO: weight of the loss on undesirable answers (empty: see kto_desirable_weight)."
    )
    # ORPO and SimPO settings
    orpo_beta: float = Field(
        0.1, gt=0, description="ORPO: weight of the odds-ratio term next to the language-model loss on the prompts and "
        "chosen answers (the paper's lambda); higher pushes the rejected answers down harder."
    )
    simpo_beta: float = Field(
        2.0, gt=0, description="SimPO: reward scale; an answer's reward is simpo_beta x its average token log-probability "
        "(the paper uses 2.0-2.5)."
    )
    simpo_gamma: float = Field(
        0.5, ge=0, description="SimPO: target reward margin (the paper's gamma): the loss, -log sigmoid(reward gap - "
        "simpo_gamma), asks the chosen answer's reward to beat the rejected one's by this much, a gap of "
        "simpo_gamma / simpo_beta in average token log-probability."
    )
    # GRPO settings
    rewards: dict[str, float] | None = Field(
        None, description="GRPO: the rewards that score each sampled answer, by name with their weights, e.g. "
        '{"exact_match": 1.0, "format": 0.2}. Names: exact_match (the final answer equals the reference), '
        "numeric_match (its number equals the reference's), format (the answer matches reward_format_pattern), "
        "length (a penalty past reward_length_target tokens), reward_model (the reward_model field's model). "
        'Default: {"exact_match": 1.0}, plus reward_model at weight 1 when that field is set.'
    )
    reward_format_pattern: str = Field(
        r"<answer>(.*?)</answer>", min_length=1, description="GRPO: a regular expression a well-formed answer contains "
        "(the format reward; anchor it with ^...$ to require the whole answer). Its first group, when it matches, is "
        "the final answer that exact_match and numeric_match check; otherwise the answer's last non-empty line is."
    )
    reward_tolerance: float = Field(
        0.0, ge=0, description="GRPO numeric_match: how far the final answer's number may be from the reference's and "
        "still count as right (0: equal)."
    )
    reward_length_target: int = Field(
        32, gt=0, description="GRPO length reward: answers up to this many tokens lose nothing; longer ones lose "
        "(tokens - target) / target, at most 1 (from twice the target on)."
    )
    rlhf_algorithm: Literal["grpo", "rloo"] = Field(
        "grpo", description="RLHF stage 2: grpo (each answer against its group's mean reward, KL to the base in the "
        "loss) or rloo (REINFORCE leave-one-out: each answer against the mean reward of the other answers to its prompt, "
        "KL to the base in the reward)."
    )
    dataset_split: str = Field("train", description="Split to read from a Hub dataset.")
    drop_duplicates: bool = Field(
        False, description="Drop rows that repeat an earlier row before the split (they are counted either way)."
    )
    column_mapping: dict[str, str] | None = Field(
        None, description="Rename dataset columns to the expected fields, e.g. {'question': 'instruction'}."
    )
    replacements: dict[str, str] | None = Field(
        None, description='Fill {{placeholders}} in the data, e.g. {"name": "Forge", "author": "Acme"}'
    )
    stratify_by: str | None = Field(
        None, description="Column whose classes keep their share in the eval rows (default: a label-like column "
        "with few values, when there is one)."
    )
    mask_history: bool = Field(
        False, description="Multi-turn chats: train on the last assistant reply only (earlier replies are context). "
        "Off: every assistant reply is trained."
    )
    output_name: str | None = Field(None, description="Name of the registered model (default: from model and time).")

    # Automatic recovery from out-of-memory (see training/oom_recovery.py)
    oom_recovery: bool = Field(
        True, description="On out of memory, go on from the last checkpoint with half the batch and twice the "
        "gradient accumulation (the same effective batch), then with gradient checkpointing, then (if "
        "oom_shorter_length) half the max length: up to 3 tries, each said in the log."
    )
    oom_shorter_length: bool = Field(
        False, description="Out-of-memory recovery may halve max_seq_length as its last try (longer rows are cut)."
    )

    # Experiment tracking (see training/tracking.py)
    trackers: list[Literal["tensorboard", "mlflow", "wandb", "trackio"]] = Field(
        default_factory=lambda: ["tensorboard"], description="Where the run's losses and metrics are logged: "
        "tensorboard (in the run folder; `tensorboard --logdir` on the runs folder shows every run), and by name "
        "mlflow, wandb, trackio (each logs locally when it cannot reach its server). []: none."
    )
    tracking_uri: str | None = Field(
        None, description="MLflow: a tracking server URL, or a folder inside the data folder (default: the data "
        "folder's mlflow store)."
    )
    tracking_project: str | None = Field(
        None, description="The W&B or trackio project, or the MLflow experiment, the run is logged under (default: modelforge)."
    )

    # Several devices and machines (accelerate launches the processes; see training/launch.py)
    num_processes: int = Field(
        1, ge=1, le=64, description="Processes training this one job on this machine: one per GPU (data parallel), or "
        "CPU processes where there is no GPU. 1: a single device."
    )
    distributed: Literal["ddp", "fsdp", "deepspeed-zero2", "deepspeed-zero3"] = Field(
        "ddp", description="How several processes share the work: ddp (each holds the whole model), fsdp (weights, "
        "gradients and optimizer state sharded), deepspeed-zero2 (gradients and optimizer state sharded), "
        "deepspeed-zero3 (everything sharded; needs requirements-deepspeed.txt). Used when num_processes > 1."
    )
    gpu_ids: list[int] | None = Field(
        None, description="Which GPUs (their index on the Hardware tab) the job trains on; default: the first free ones."
    )
    num_machines: int = Field(1, ge=1, le=1024, description="Machines training this one job together (1: this one).")
    main_process_ip: str | None = Field(
        None, description="Several machines: the address of machine 0, which the others reach."
    )
    main_process_port: int | None = Field(
        None, ge=1024, le=65535, description="Several machines: the port on machine 0 the processes meet at (default 29500)."
    )

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("task"), str):
            data = {**data, "task": canonical_task_name(data["task"])}
        if isinstance(data, dict) and isinstance(data.get("strategy"), str):
            data = {**data, "strategy": data["strategy"].strip().lower()}
        if isinstance(data, dict) and isinstance(data.get("provider"), str):
            data = {**data, "provider": data["provider"].strip().lower()}
        if isinstance(data, dict) and isinstance(data.get("gpu_ids"), list) and "num_processes" not in data:
            data = {**data, "num_processes": max(len(data["gpu_ids"]), 1)}  # one process per named GPU
        if isinstance(data, dict) and data.get("compute_specs"):
            data = with_profile_defaults(data, cls.input_names)
        return data

    @field_validator("trackers")
    @classmethod
    def _unique_trackers(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("output_name")
    @classmethod
    def _check_output_name(cls, value: str | None) -> str | None:
        """The registered name is checked before any work: a bad one would fail only after training."""
        if value is None or not value.strip():
            return None
        problem = model_name_problem(value)
        if problem:
            raise ValueError(f"{problem} (e.g. 'my-model-v2')")
        return value.strip()

    @field_validator("replacements")
    @classmethod
    def _check_replacements(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        """Keys are placeholder names as the data writes them inside {{ }}, without the braces."""
        if not value:
            return None
        keys = {key: key.strip() for key in value}
        bad = [key for key, name in keys.items() if not re.fullmatch(PLACEHOLDER_KEY, name)]
        if bad:
            words = "key {} is not a placeholder name" if len(bad) == 1 else "keys {} are not placeholder names"
            raise ValueError(
                words.format(", ".join(map(repr, bad))) + ": a key is the name inside {{ }} (letters, digits, "
                '_ . -), without the braces, e.g. {"name": "Forge"}'
            )
        return {keys[key]: text for key, text in value.items()}

    @field_validator("stratify_by")
    @classmethod
    def _check_stratify_by(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("reward_format_pattern")
    @classmethod
    def _check_reward_format_pattern(cls, value: str) -> str:
        """A pattern that does not compile would fail only at the first reward, after the model has loaded."""
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"{value!r} is not a regular expression Python can read ({exc}); e.g. '<answer>(.*?)</answer>' "
                "matches an answer between answer tags (escape a literal ( [ . * + ? with a backslash)"
            ) from None
        return value

    @model_validator(mode="after")
    def _check(self) -> TrainingConfig:
        problems = list(self._problems())
        if problems:
            raise ValueError("; ".join(problems))
        if self.strategy == "qlora":
            self.use_4bit = True
        return self

    def _problems(self):
        """The rules across fields, or beyond one bound; single bounds are the fields' constraints."""
        if self.task not in TASKS:
            yield f"unknown task '{self.task}' (valid tasks: {', '.join(TASKS)})"
        if self.reward_max_steps == 0:
            yield f"reward_max_steps must be positive, or -1 to run all epochs; got {self.reward_max_steps}"
        if self.max_steps == 0:
            yield f"max_steps must be positive, or -1 to run all epochs; got {self.max_steps}"
        if self.strategy == "kto" and self.per_device_train_batch_size < 2:
            yield (
                f"KTO needs at least 2 rows per batch (per_device_train_batch_size is {self.per_device_train_batch_size}): "
                "it compares each answer with the others of its batch to estimate how far the model has moved from the "
                "base; set per_device_train_batch_size to 2 or more"
            )
        if self.bf16 and self.fp16:
            yield "bf16 and fp16 cannot both be on; pick one precision"
        if self.finetuning_type == "full" and (self.use_4bit or self.strategy == "qlora"):
            yield "full fine-tuning cannot train 4-bit weights; use finetuning_type 'lora' or turn use_4bit off"
        yield from self._distributed_problems()

    def _distributed_problems(self):
        if self.gpu_ids is not None:
            if not self.gpu_ids or len(set(self.gpu_ids)) != len(self.gpu_ids) or min(self.gpu_ids) < 0:
                yield f"gpu_ids must name each GPU once, by its index (0, 1, ...); got {self.gpu_ids}"
            elif len(self.gpu_ids) != self.num_processes:
                yield (
                    f"gpu_ids names {len(self.gpu_ids)} GPU(s) but num_processes is {self.num_processes}: one process "
                    f"trains on each GPU; set num_processes to {len(self.gpu_ids)}"
                )
        if self.num_machines > 1 and not self.main_process_ip:
            yield (
                f"num_machines is {self.num_machines} but main_process_ip is not set: give the address of machine 0, "
                "which the other machines reach"
            )

    @classmethod
    def input_names(cls, name: str) -> tuple[str, ...]:
        """The keys a config may give field ``name`` under: its name and its aliases."""
        alias = cls.model_fields[name].validation_alias
        return tuple(alias.choices) if isinstance(alias, AliasChoices) else (name,)

    @classmethod
    def field_for_input_name(cls, key: str) -> str | None:
        """The field a config key sets (a name or an alias), None for an unknown key."""
        return next((name for name in cls.model_fields if key in cls.input_names(name)), None)

    @property
    def world_size(self) -> int:
        """Processes training the job, on all machines together."""
        return self.num_processes * self.num_machines

    @property
    def run_name(self) -> str:
        """A readable default name for the registered model."""
        base = Path(self.model_name.rstrip("/")).name or "model"
        return self.output_name or name_from(f"{base}-{self.strategy}")

    def to_json_dict(self) -> dict[str, Any]:
        """The config as plain JSON (field names, not aliases)."""
        return self.model_dump(mode="json")


def read_config_file(path: str | Path) -> Any:
    """The JSON in a config file; ConfigurationError in words when it is missing or not JSON."""
    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"Config file not found: {path}", "Give the path of a JSON config file.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"Config file {path} is not valid JSON: {exc}", "Fix the JSON syntax.") from exc


def config_data(data: dict[str, Any] | str | Path) -> dict[str, Any]:
    """A config given as a dict, a JSON string or a JSON file, as a dict (not checked yet); ConfigurationError
    in words when it is not a JSON object."""
    if isinstance(data, Path) or (isinstance(data, str) and not data.lstrip().startswith("{")):
        data = read_config_file(data)
    elif isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"Config is not valid JSON: {exc}", "Fix the JSON syntax.") from exc
    if not isinstance(data, dict):
        raise ConfigurationError("A training config must be a JSON object.", "Wrap the fields in { ... }.")
    return data


def parse_training_config(data: dict[str, Any] | str | Path) -> TrainingConfig:
    """Build a config from a dict, a JSON string or a JSON file; raise ConfigurationError in words."""
    data = config_data(data)
    try:
        return TrainingConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc), "Fix the fields named above; `info` lists valid names.") from None


def _describe(exc: ValidationError) -> str:
    """The validation errors in words; a broken bound reads "learning_rate must be positive, got 0"."""
    parts = []
    for err in exc.errors():
        loc = err.get("loc", ())
        field = ".".join(str(p) for p in loc)
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        name = TrainingConfig.field_for_input_name(str(loc[0])) if len(loc) == 1 else None
        if err.get("type") == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        elif err.get("type") in BOUND_ERRORS and name:
            parts.append(f"{field} must be {field_bounds(TrainingConfig.model_fields[name]).words()}, got {err['input']}")
            continue
        parts.append(f"{field}: {msg}" if field else msg)
    return "Invalid training config: " + "; ".join(parts)
