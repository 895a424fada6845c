"""Liger Kernel (an optional dependency): fused Triton kernels for causal-LM SFT on a CUDA GPU.

RMSNorm, RoPE, SwiGLU and a fused linear cross-entropy that never builds the batch's logits; transformers'
Trainer applies them to the model (``use_liger_kernel``) and TRL then computes the loss through them. The GPU
test checks that the loss is the same with and without them.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from .padding_free import FAST_STRATEGIES


def liger_problem(config: Any, model, output_layer_adapted: bool) -> str | None:
    """Why Liger Kernel is not used for this run (None: it is); raises nothing, ``on`` with no package included."""
    import torch

    if config.liger_kernel == "off":
        return "turned off"
    if config.provider != "huggingface" or config.strategy not in FAST_STRATEGIES or config.task != "text-generation":
        return "causal-LM SFT with the Hugging Face provider only"
    if not torch.cuda.is_available():
        return "no CUDA GPU (its kernels are Triton's)"
    if importlib.util.find_spec("liger_kernel") is None:
        return "liger-kernel is not installed (pip install liger-kernel)"
    if output_layer_adapted:
        return "LoRA wraps the output layer, which the fused cross-entropy reads as a plain weight"
    from liger_kernel.transformers.monkey_patch import MODEL_TYPE_TO_APPLY_LIGER_FN

    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in MODEL_TYPE_TO_APPLY_LIGER_FN:
        return f"no Liger kernels for the {model_type} architecture"
    return None
