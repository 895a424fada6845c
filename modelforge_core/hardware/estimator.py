"""Peak training memory from a model's shape and the training settings, before anything is loaded.

The figure is split into weights, adapter, gradients, optimizer state, activations (the tensors kept
for the backward pass), output logits (with the loss's float32 copies) and the framework's own
share (CUDA context, or the Python process on the CPU). Activations follow the per-layer tensors a
transformer block keeps for backward (Korthikanti et al., 2022, "Reducing Activation Recomputation
in Large Transformer Models"), with memory-efficient attention (no seq x seq matrix kept), as
PyTorch's SDPA does. Rows are assumed ``max_seq_length`` long: a batch is padded to its longest
row, so shorter data needs less. The tolerance measured against real runs is in bench/RESULTS.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

from ..model_kinds import ModelKind
from ..providers.varlen_attention import ATTENTION_NAME
from ..strategies.padding_free import padding_free_applies, varlen_applies
from .model_shape import ModelShape

GB = 1024**3
# bitsandbytes nf4: 4 bits per weight plus one 8-bit absmax per 64 weights and, with double
# quantization, one float32 per 256 absmax values.
NF4_BYTES_PER_PARAM = 0.5 + 1 / 64 + 4 / (64 * 256)
CUDA_CONTEXT_BYTES = int(0.5 * GB)  # CUDA context, cuBLAS workspace, allocator slack
CPU_PROCESS_BYTES = int(1.0 * GB)  # Python with torch, transformers, trl and the dataset loaded
CHUNKED_LOSS_TOKENS = 256  # TRL's chunk size for loss_type="chunked_nll"
# Strategies that put a prompt's chosen and rejected answers through the model together (2 x batch), with their note
PAIR_STRATEGIES = {
    "dpo": "DPO: chosen and rejected answers in one pass (2 x batch); the reference pass keeps no activations.",
    "orpo": "ORPO: chosen and rejected answers in one pass (2 x batch); no reference model.",
    "simpo": "SimPO: chosen and rejected answers in one pass (2 x batch); no reference model.",
}
# TRL's (experimental) ORPO and CPO trainers take the log-softmax of the whole float32 logits of the chosen and
# rejected answers (DPO's gathers the answer tokens' log-probabilities without that copy): bytes per logit this adds
# at the peak, measured on the demo model (bench/memory_check.py: ORPO 13, SimPO 10).
FULL_LOG_SOFTMAX_STRATEGIES = ("orpo", "simpo")
FULL_LOG_SOFTMAX_BYTES = 12
# What each method keeps per device, when several devices train one job: "divided" components are split
# across the devices; the rest is held whole on each.
DISTRIBUTED_METHODS = {
    "ddp": (),  # a whole replica per device, plus DDP's flat buckets of the gradients
    "deepspeed-zero2": ("gradients", "optimizer"),
    "fsdp": ("weights", "adapter", "gradients", "optimizer"),  # full sharding, one block gathered at a time
    "deepspeed-zero3": ("weights", "adapter", "gradients", "optimizer"),
}
FITS_SHARE = 0.85  # above 85% of the memory a run is "tight": fragmentation and spikes can tip it over
EIGHT_BIT_OPTIMIZERS = ("8bit",)


class Verdict(str, Enum):
    """Whether a run's estimated peak fits the memory: the value is what JSON says, ``words`` what people read."""

    FITS = "fits"  # within FITS_SHARE of the memory
    TIGHT = "tight"  # within all of it
    WILL_NOT_FIT = "will_not_fit"

    def __str__(self) -> str:
        return self.value

    @property
    def words(self) -> str:
        """The verdict in words, e.g. ``tight: it may run out of memory``."""
        return VERDICT_WORDS[self]


VERDICT_WORDS = {Verdict.FITS: "fits", Verdict.TIGHT: "tight: it may run out of memory", Verdict.WILL_NOT_FIT: "will not fit"}


@dataclass(frozen=True)
class TrainingPlan:
    """The settings that decide memory; ``strategy`` is a strategy name (sft, qlora, dpo, kto, orpo, simpo, grpo, rlhf)."""

    strategy: str = "sft"
    full_finetuning: bool = False
    use_4bit: bool = False
    batch_size: int = 4
    max_seq_length: int = 512
    precision: str = "fp32"  # fp32, bf16 or fp16 (mixed precision on a GPU)
    gradient_checkpointing: bool = False
    lora_r: int = 16
    target_modules: str | tuple[str, ...] = "all-linear"
    lora_dropout: float = 0.05
    optim: str = "adamw_torch"
    device: str = "cpu"  # cpu, cuda or mps
    num_generations: int = 4
    max_completion_length: int = 64
    reward_batch_size: int | None = None
    chunked_loss: bool = False  # TRL's chunked loss (SFT on causal LMs): logits one chunk at a time
    padding_free: bool = False  # rows end to end in one sequence, with a block-diagonal mask
    varlen_attention: bool = False  # padding-free rows through the variable-length flash kernel: no mask
    world_size: int = 1  # devices training the one job (data parallel: each its own batch)
    distributed: str = "ddp"  # how several devices share the state: see DISTRIBUTED_METHODS

    @property
    def full(self) -> bool:
        return self.full_finetuning

    @property
    def four_bit(self) -> bool:
        return self.use_4bit or self.strategy == "qlora"

    @classmethod
    def from_config(cls, config, device: str) -> TrainingPlan:
        """The plan of a TrainingConfig run on ``device`` (mixed precision only on a GPU)."""
        precision = "fp32"
        if device != "cpu":
            precision = "bf16" if config.bf16 else "fp16" if config.fp16 else "fp32"
        target = config.target_modules if isinstance(config.target_modules, str) else tuple(config.target_modules)
        # the worker's choice on a GPU (training.gpu_path), but for the architecture, which the estimate does not know
        varlen = device == "cuda" and precision != "fp32" and varlen_applies(config)
        return cls(
            strategy=config.strategy,
            full_finetuning=config.finetuning_type == "full",
            use_4bit=config.use_4bit,
            batch_size=config.per_device_train_batch_size,
            max_seq_length=config.max_seq_length,
            precision=precision,
            gradient_checkpointing=config.gradient_checkpointing,
            lora_r=config.lora_r,
            target_modules=target,
            lora_dropout=config.lora_dropout,
            optim=config.optim,
            device=device,
            num_generations=config.num_generations,
            max_completion_length=config.max_completion_length,
            reward_batch_size=config.reward_batch_size,
            chunked_loss=config.chunked_loss and config.strategy in ("sft", "qlora") and config.task == "text-generation",
            padding_free=padding_free_applies(config, ATTENTION_NAME if varlen else None),
            varlen_attention=varlen,
            world_size=config.world_size,
            distributed=config.distributed,
        )


@dataclass
class MemoryEstimate:
    """Bytes per component; ``tensors`` is what PyTorch allocates, ``total`` adds the framework."""

    components: dict[str, int] = field(default_factory=dict)
    framework: int = 0
    trainable_params: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def tensors(self) -> int:
        return sum(self.components.values())

    @property
    def total(self) -> int:
        return self.tensors + self.framework

    def to_dict(self) -> dict:
        return {
            "peak_gb": round(self.total / GB, 3),
            "tensors_gb": round(self.tensors / GB, 3),
            "components_gb": {name: round(value / GB, 4) for name, value in self.components.items()},
            "framework_gb": round(self.framework / GB, 3),
            "trainable_params": self.trainable_params,
            "notes": list(self.notes),
        }


def _weight_bytes(shape: ModelShape, plan: TrainingPlan) -> tuple[int, int]:
    """(bytes of the base weights, bytes per element of the compute dtype)."""
    compute = 4 if plan.precision == "fp32" and shape.checkpoint_dtype_bytes == 4 else 2
    if plan.device == "cpu" and plan.precision != "fp32":
        compute = shape.checkpoint_dtype_bytes
    stored = shape.checkpoint_dtype_bytes
    if plan.device == "cpu" and not plan.four_bit:  # loaded in float32 on a CPU (providers/huggingface_provider.loading_dtype)
        stored = compute = 4
    if plan.four_bit:
        other = shape.total_params - shape.linear_params
        # transformers keeps the non-quantized parts in the compute dtype when loading in 4-bit
        other_bytes = 2 if plan.device != "cpu" else stored
        return int(shape.linear_params * NF4_BYTES_PER_PARAM + other * other_bytes), compute
    return shape.total_params * stored, compute


def _block_activation_elements(shape: ModelShape, plan: TrainingPlan) -> tuple[float, float]:
    """(elements kept per token per block in the compute dtype, in float32), without checkpointing."""
    h, i = shape.hidden_size, shape.intermediate_size
    mlp = 4 * i if shape.gated_mlp else 2 * i  # gate, up, act(gate), product / up, act(up)
    if shape.kind.has_task_head:
        # an encoder block (task-head models are estimated as encoders); self-attention: input, q, k, v, output, o-proj input; two LayerNorms; dropout masks
        return 6 * h + mlp, 4 * h
    # decoder block: norm output, q, k, v (after grouped-query heads are repeated), attention
    # output, o-proj input, second norm output; RMSNorm keeps float32 copies of its input
    return 7 * h + mlp, 4 * h


def _lora_dropout_bytes_per_token(shape: ModelShape, plan: TrainingPlan, act: int) -> int:
    if plan.full or plan.lora_dropout <= 0 or not shape.num_layers:
        return 0
    per_model = sum(layer.in_features for layer in shape.linears)
    return int(per_model * (act + 1))  # the dropped input and its mask, per adapted layer


def _activation_bytes(shape: ModelShape, plan: TrainingPlan, tokens: int, act: int) -> tuple[int, int]:
    """(tensors the blocks keep for backward at its peak, the share of them not yet held when the
    forward pass ends: the backward pass's own temporaries, or the recomputed block)."""
    per_block, per_block_fp32 = _block_activation_elements(shape, plan)
    block = per_block * act + per_block_fp32 * 4
    layers = max(shape.num_layers, 1)
    dropout = _lora_dropout_bytes_per_token(shape, plan, act)
    later = block + dropout // layers  # one block: recomputed (checkpointing) or backward's temporaries
    if plan.gradient_checkpointing:
        kept = layers * shape.hidden_size * act + later  # block inputs + the recomputed block
    else:
        kept = layers * block + dropout
    kept += 2 * shape.hidden_size * act  # embeddings output and final norm
    return int(tokens * kept), int(tokens * later)


def _attention_matrix_bytes(shape: ModelShape, plan: TrainingPlan, sequences: int, seq_len: int, act: int) -> int:
    """Seq x seq attention weights kept for backward where no fused kernel applies.

    Measured on the CPU: with attention dropout (BERT, T5) or a position-bias mask (T5) PyTorch's
    SDPA falls back to the plain path, which keeps the scores, the probabilities and the dropout
    mask. On CUDA the memory-efficient kernel handles both.
    """
    if plan.device != "cpu" or (shape.attention_dropout <= 0 and shape.kind is not ModelKind.SEQ2SEQ):
        return 0
    attentions = shape.num_layers + shape.decoder_layers  # decoder blocks also attend to the encoder
    if plan.gradient_checkpointing:
        attentions = min(attentions, 2)
    return int(attentions * sequences * shape.num_heads * seq_len * seq_len * (2 * act + 1))


def _packed_mask_bytes(shape: ModelShape, plan: TrainingPlan, tokens: int) -> int:
    """A padding-free batch's block-diagonal mask over all its tokens, shared by the layers.

    Measured on the CPU: about 8 bytes per (token, token) pair (the boolean mask and its float
    form for SDPA), +32 MB for 2048 tokens on the demo model; 5 with gradient checkpointing (+20 MB).
    """
    if not plan.padding_free or plan.varlen_attention or shape.kind is not ModelKind.CAUSAL:
        return 0
    return (5 if plan.gradient_checkpointing else 8) * tokens * tokens


def _logits_bytes(shape: ModelShape, tokens: int, act: int) -> int:
    """Output logits with the loss's float32 copies (upcast, log-softmax, their gradient).

    Bytes per logit measured at the peak: 7 in float32 (demo models, CPU), 14 with 16-bit
    weights (Qwen2.5-0.5B in bfloat16, TRL's SFT loss), where the upcast copy adds to the rest.
    """
    if shape.kind.has_task_head:
        return 0
    return int(tokens * shape.vocab_size * (7 if act == 4 else 14))


def _optimizer_bytes(trainable: int, plan: TrainingPlan, state_bytes: int) -> int:
    name = plan.optim.lower()
    if name.startswith("sgd"):
        return 0
    if any(tag in name for tag in EIGHT_BIT_OPTIMIZERS):
        return 2 * trainable
    if "adafactor" in name:
        return trainable * state_bytes // 8
    return 2 * trainable * state_bytes


def _training_pass(shape: ModelShape, plan: TrainingPlan, sequences: int, seq_len: int) -> MemoryEstimate:
    weights, act = _weight_bytes(shape, plan)
    if plan.full:
        trainable = shape.total_params
        state = shape.checkpoint_dtype_bytes
        adapter = 0
    else:
        trainable = shape.lora_params(plan.lora_r, plan.target_modules if isinstance(plan.target_modules, str) else list(plan.target_modules))
        if shape.kind.has_task_head:
            trainable += shape.head_params  # the task head is trained in full
        state = 4
        adapter = trainable * 4
    tokens = sequences * seq_len
    activations, later = _activation_bytes(shape, plan, tokens, act)
    # The logits and the loss's copies live at the end of the forward pass, before backward's own
    # temporaries exist: they add to the peak only where they are larger.
    if plan.chunked_loss and shape.kind is ModelKind.CAUSAL:
        tokens_with_logits = min(tokens, CHUNKED_LOSS_TOKENS)  # one chunk's logits live at a time
    else:
        tokens_with_logits = tokens
    logits = max(0, _logits_bytes(shape, tokens_with_logits, act) - later)
    estimate = MemoryEstimate(trainable_params=trainable)
    mask = _packed_mask_bytes(shape, plan, tokens)
    estimate.components = {
        "weights": weights,
        "adapter": adapter,
        "gradients": trainable * state,
        "optimizer": _optimizer_bytes(trainable, plan, state),
        "activations": activations + _attention_matrix_bytes(shape, plan, sequences, seq_len, act) + mask,
        "logits": logits,
    }
    return estimate


def estimate_memory(shape: ModelShape, plan: TrainingPlan, reward_shape: ModelShape | None = None) -> MemoryEstimate:
    """The peak memory of training ``shape`` with ``plan``; RLHF also holds ``reward_shape``."""
    if plan.strategy in PAIR_STRATEGIES:
        # chosen and rejected rows go through together; DPO's reference pass (adapter off) keeps nothing
        estimate = _training_pass(shape, plan, 2 * plan.batch_size, plan.max_seq_length)
        estimate.notes.append(PAIR_STRATEGIES[plan.strategy])
        if plan.strategy in FULL_LOG_SOFTMAX_STRATEGIES and not shape.kind.has_task_head:
            _, act = _weight_bytes(shape, plan)
            logits = 2 * plan.batch_size * plan.max_seq_length * shape.vocab_size
            estimate.components["logits"] += logits * (FULL_LOG_SOFTMAX_BYTES if act == 4 else FULL_LOG_SOFTMAX_BYTES + 2)
    elif plan.strategy == "kto":
        estimate = _training_pass(shape, plan, plan.batch_size, plan.max_seq_length)
        _, act = _weight_bytes(shape, plan)
        # the reference pass runs while the policy's activations wait for backward: its logits and their
        # log-probabilities (float32) are there at the peak, then freed
        estimate.components["logits"] += plan.batch_size * plan.max_seq_length * shape.vocab_size * (act + 4)
        estimate.notes.append(
            "KTO: one answer per row; the KL pass (mismatched answers) and the reference passes run without gradients "
            "and keep no activations, but the reference pass's logits are there at the peak."
        )
    elif plan.strategy == "grpo":
        estimate = _grpo(shape, plan)
    elif plan.strategy == "rlhf":
        estimate = _rlhf(shape, plan, reward_shape or shape)
    else:
        estimate = _training_pass(shape, plan, plan.batch_size, plan.max_seq_length)
    if plan.four_bit:
        estimate.notes.append("QLoRA: base weights in 4-bit nf4 with double quantization.")
    if plan.world_size > 1:
        _per_device(estimate, shape, plan)
    estimate.framework = CPU_PROCESS_BYTES if plan.device == "cpu" else CUDA_CONTEXT_BYTES
    return estimate


def _per_device(estimate: MemoryEstimate, shape: ModelShape, plan: TrainingPlan) -> None:
    """Turn one device's figures into those of each of ``plan.world_size`` devices under ``plan.distributed``.

    Activations and logits stay per device (each device runs its own batch). DDP adds a flat copy of the
    gradients (its all-reduce buckets); FSDP and ZeRO-3 hold one transformer block's weights whole while
    it runs (gathered from the shards).
    """
    if plan.distributed not in DISTRIBUTED_METHODS:
        raise ValueError(f"unknown distributed method {plan.distributed!r}; known: {', '.join(DISTRIBUTED_METHODS)}")
    devices, divided = plan.world_size, DISTRIBUTED_METHODS[plan.distributed]
    components = estimate.components
    for name in divided:
        components[name] = -(-components[name] // devices)  # rounded up: a shard is never smaller
    if plan.distributed == "ddp":
        components["gradient buckets"] = components["gradients"]
        how = "each holds a whole replica, plus DDP's buckets (a copy of the gradients)"
    else:
        if "weights" in divided:
            block = (shape.total_params - shape.embedding_params - shape.head_params) // max(shape.num_layers, 1)
            components["gathered block"] = block * shape.checkpoint_dtype_bytes
        how = f"{', '.join(divided)} divided among them" + (", one block's weights gathered whole" if "weights" in divided else "")
    estimate.notes.append(f"Per device, {devices} devices ({plan.distributed}): {how}.")


def generation_batch(plan: TrainingPlan) -> int:
    """Answers per step in GRPO: the batch raised to at least one group and rounded down to whole groups."""
    batch = max(plan.batch_size, plan.num_generations)
    return batch - batch % plan.num_generations


def _policy_pass(shape: ModelShape, plan: TrainingPlan) -> tuple[MemoryEstimate, int, int]:
    """GRPO's step: ``generation_batch`` answers of up to prompt + completion tokens, trained, after generating them
    with a KV cache (freed before the training pass; the larger of the two counts). Returns (estimate, answers, length)."""
    answers, length = generation_batch(plan), plan.max_seq_length + plan.max_completion_length
    estimate = _training_pass(shape, replace(plan, batch_size=answers), answers, length)
    _, act = _weight_bytes(shape, plan)
    kv_cache = 2 * shape.num_layers * shape.hidden_size * act * answers * length
    estimate.components["activations"] = max(estimate.components["activations"], kv_cache)
    return estimate, answers, length


def _grpo(shape: ModelShape, plan: TrainingPlan) -> MemoryEstimate:
    """Rule rewards cost nothing on the device: the policy's generation and training pass are the peak."""
    estimate, answers, length = _policy_pass(shape, plan)
    estimate.notes.append(
        f"GRPO: {answers} sampled answers per step ({plan.num_generations} per prompt) of up to {length} tokens, "
        "generated with a KV cache, then trained; rule rewards need no model."
    )
    return estimate


def _rlhf(shape: ModelShape, plan: TrainingPlan, reward_shape: ModelShape) -> MemoryEstimate:
    """Stage 1 trains the reward model on pairs; stage 2 holds policy + reward model and generates."""
    reward_plan = replace(plan, strategy="sft")
    reward_head = replace(reward_shape, kind=ModelKind.REWARD, vocab_size=0, head_params=reward_shape.hidden_size)
    stage1 = _training_pass(reward_head, reward_plan, 2 * (plan.reward_batch_size or plan.batch_size), plan.max_seq_length)
    stage2, answers, length = _policy_pass(shape, plan)
    reward_weights, _ = _weight_bytes(reward_shape, replace(plan, strategy="sft"))
    stage2.components["reward_model"] = reward_weights
    peak = stage2 if stage2.tensors >= stage1.tensors else stage1
    peak.notes.append(
        f"RLHF: stage 1 (reward model) needs {stage1.tensors / GB:.2f} GB of tensors, stage 2 (policy + reward model, "
        f"{answers} answers of up to {length} tokens) {stage2.tensors / GB:.2f} GB; the larger is the peak."
    )
    return peak


def verdict(estimate: MemoryEstimate, budget_bytes: float) -> Verdict:
    """FITS (within 85% of the memory), TIGHT (within all of it) or WILL_NOT_FIT."""
    if estimate.total <= FITS_SHARE * budget_bytes:
        return Verdict.FITS
    return Verdict.TIGHT if estimate.total <= budget_bytes else Verdict.WILL_NOT_FIT


def _changes(plan: TrainingPlan) -> list[tuple[str, dict]]:
    """Single changes that lower memory, mildest first: (words, TrainingPlan fields)."""
    changes: list[tuple[str, dict]] = []
    if not plan.gradient_checkpointing:
        changes.append(("turn on gradient checkpointing", {"gradient_checkpointing": True}))
    for batch in (plan.batch_size // 2, 1):
        if 1 <= batch < plan.batch_size and all(c[1].get("batch_size") != batch for c in changes):
            changes.append((f"batch size {batch} (raise gradient accumulation to keep the effective batch)", {"batch_size": batch}))
    if plan.strategy in ("grpo", "rlhf") and plan.num_generations > 2:
        fewer = max(2, plan.num_generations // 2)
        changes.append((f"num_generations {fewer} (fewer answers sampled per prompt)", {"num_generations": fewer}))
    if plan.full:
        changes.append(("train LoRA adapters instead of every weight", {"full_finetuning": False}))
    if not plan.four_bit and plan.device == "cuda":
        changes.append(("load the base model in 4-bit (QLoRA)", {"use_4bit": True, "full_finetuning": False}))
    for length in (plan.max_seq_length // 2, 256):
        if 128 <= length < plan.max_seq_length and all(c[1].get("max_seq_length") != length for c in changes):
            changes.append((f"max_seq_length {length} (longer rows are truncated)", {"max_seq_length": length}))
    if plan.full and "8bit" not in plan.optim:
        changes.append(("an 8-bit optimizer (optim adamw_bnb_8bit)", {"optim": "adamw_bnb_8bit"}))
    return changes


def suggest(shape: ModelShape, plan: TrainingPlan, budget_bytes: float, reward_shape: ModelShape | None = None) -> list[dict]:
    """Changes that would make the run fit: each alone, then all of them together, with the new peak. A change that
    lowers nothing (a batch below GRPO's group of answers) is left out."""
    found = []
    combined: dict = {}
    now = estimate_memory(shape, plan, reward_shape).total
    for words, fields in _changes(plan):
        new = estimate_memory(shape, replace(plan, **fields), reward_shape)
        if new.total >= now:
            continue
        combined.update(fields)
        found.append({"change": words, "settings": fields, "peak_gb": round(new.total / GB, 2), "verdict": verdict(new, budget_bytes)})
    if combined and not any(item["verdict"] is Verdict.FITS for item in found):
        new = estimate_memory(shape, replace(plan, **combined), reward_shape)
        found.append({
            "change": "all of these together", "settings": combined, "peak_gb": round(new.total / GB, 2), "verdict": verdict(new, budget_bytes),
        })
    return found
