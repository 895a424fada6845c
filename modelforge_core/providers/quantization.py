"""``QuantizationFactory``: the one place that builds bitsandbytes configs (4-bit nf4 for QLoRA)."""

from __future__ import annotations

from typing import Any

from ..exceptions import ProviderError
from ..packages import is_bitsandbytes_available


def compute_dtype_name(bf16: bool) -> str:
    """bfloat16 where the GPU supports it (or asked for), float16 on older GPUs, float32 on the CPU."""
    import torch

    if torch.cuda.is_available():
        return "bfloat16" if (bf16 or torch.cuda.is_bf16_supported()) else "float16"
    return "float32"


class QuantizationFactory:
    """Builds ``BitsAndBytesConfig`` objects; ``None`` means full precision."""

    @staticmethod
    def create(
        use_4bit: bool = False, use_8bit: bool = False, bf16: bool = False, skip_modules: list[str] | None = None,
        sharded: bool = False,
    ) -> Any:
        """``skip_modules`` stay in full precision (task heads that are trained in full). ``sharded``: FSDP or ZeRO-3
        will shard the 4-bit weights, which they can only do when the packed weights are stored in the compute dtype
        (QLoRA with FSDP, as peft and bitsandbytes document it)."""
        if not (use_4bit or use_8bit):
            return None
        if not is_bitsandbytes_available():
            raise ProviderError(
                "4-bit / 8-bit loading needs bitsandbytes, which is not installed.",
                "pip install bitsandbytes==0.50.2, or turn use_4bit off.",
            )
        import torch
        from transformers import BitsAndBytesConfig

        if use_8bit:
            return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip_modules)
        return BitsAndBytesConfig(
            load_in_4bit=True,
            llm_int8_skip_modules=skip_modules,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=getattr(torch, compute_dtype_name(bf16)),
            **({"bnb_4bit_quant_storage": getattr(torch, compute_dtype_name(bf16))} if sharded else {}),
        )
