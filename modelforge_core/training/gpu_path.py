"""The fast GPU path of the Hugging Face provider, decided once per run before the model loads.

- **Attention**: causal-LM SFT and QLoRA in 16-bit on a CUDA GPU load the model with PyTorch's variable-length flash
  kernel (``providers.varlen_attention``): padding-free batches without a mask over the batch's tokens.
- **Fill**: with that kernel, a GPU of 40 GB or more trains the same effective batch as fewer, larger
  micro-batches and without gradient checkpointing (``hardware.gpu_fill``), where the estimate allows.
- **Liger Kernel** (optional dependency): fused RMSNorm, RoPE, SwiGLU and linear cross-entropy, decided by the
  SFT strategy when it builds the trainer (``strategies.liger``), since it depends on where LoRA sits.

Every choice is said in the job's log; ``attention``, ``liger_kernel`` and ``fill_gpu`` turn each off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..hardware.estimator import TrainingPlan
from ..hardware.gpu_fill import Fill, fill_for
from ..hardware.model_shape import model_shape
from ..logging_config import get_logger
from ..model_kinds import ModelKind
from ..providers.varlen_attention import ATTENTION_NAME
from ..schemas import TrainingConfig
from ..strategies.padding_free import varlen_applies

log = get_logger("training")
# Architectures whose attention the varlen kernel computes in full: no logit soft-capping (Gemma 2 and 3), no
# attention sinks (gpt-oss), which the kernel does not take and transformers would then leave out
VARLEN_ARCHITECTURES = frozenset((
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "phi3", "gemma", "granite", "olmo2",
))


@dataclass
class GpuPath:
    """The config to train with (the fill applied), the ``attn_implementation`` to load with, and what was decided."""

    config: TrainingConfig
    attention: str | None = None
    notes: list[str] = field(default_factory=list)


def _cuda() -> tuple[bool, float]:
    import torch

    if not torch.cuda.is_available():
        return False, 0.0
    return True, float(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)


def _attention(config: TrainingConfig, model_class: str, model_type: str | None, cuda: bool, notes: list[str]) -> str | None:
    from ..providers.varlen_attention import register_varlen_attention, varlen_problem

    if config.provider != "huggingface":
        return None  # Unsloth brings its own kernels
    if config.attention in ("sdpa", "eager"):
        return config.attention
    if model_class != ModelKind.CAUSAL.auto_class or not varlen_applies(config):
        if config.attention == "varlen":
            notes.append("Attention: the model's default (varlen is for causal-LM SFT and QLoRA)")
        return None
    problem = varlen_problem() if cuda else "no CUDA GPU"
    if problem is None and model_type not in VARLEN_ARCHITECTURES:
        problem = f"not checked for the {model_type} architecture"
    if problem is None and not (config.bf16 or config.fp16):
        problem = "the flash kernel needs bf16 or fp16"
    if problem:
        if config.attention == "varlen":
            notes.append(f"Attention: sdpa (varlen asked for, but {problem})")
        return None
    notes.append("Attention: varlen (PyTorch's variable-length flash kernel: each row attends to itself, no mask)")
    return register_varlen_attention()


def plan_gpu_path(config: TrainingConfig, model_class: str, model_config: dict) -> GpuPath:
    """The run's attention implementation and micro-batch settings on this machine (``model_config``: its config.json)."""
    cuda, gpu_bytes = _cuda()
    notes: list[str] = []
    attention = _attention(config, model_class, model_config.get("model_type"), cuda, notes)
    if attention != ATTENTION_NAME:
        return GpuPath(config, attention, notes)
    fill = _fill(config, model_config, gpu_bytes)
    if fill.update:
        notes.append(f"GPU fill: {fill.words}")
        config = TrainingConfig.model_validate({**config.to_json_dict(), **fill.update})
    return GpuPath(config, attention, notes)


def _fill(config: TrainingConfig, model_config: dict, gpu_bytes: float) -> Fill:
    try:
        shape = model_shape(model_config, ModelKind.CAUSAL.auto_class)
    except Exception as exc:  # a config the estimator cannot read: keep the user's settings
        log.info("gpu fill skipped", extra={"fields": {"error": str(exc)}})
        return Fill({}, "")
    return fill_for(config, shape, TrainingPlan.from_config(config, "cuda"), gpu_bytes)
