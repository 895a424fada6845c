"""``QLoRAStrategy``: SFT on a base model loaded in 4-bit nf4 (double quantization), with LoRA.

The worker loads the model through the QuantizationFactory because ``requires_4bit`` is set; peft's
``prepare_model_for_kbit_training`` then readies it for adapters. On a CPU it still runs
(bitsandbytes 0.50 has CPU kernels), slower than full precision there.
"""

from __future__ import annotations

from ..schemas.tasks import supervised_shapes
from .sft_strategy import SFTStrategy


class QLoRAStrategy(SFTStrategy):
    """SFT with the base weights frozen in 4 bits and a LoRA adapter trained on top."""

    requires_4bit = True
    # Extractive QA encoders are left out: bitsandbytes 0.50's CPU 4-bit kernels fail on their biased
    # linear layers during backward ("a view of a leaf Variable ... in-place"); not yet tried on a GPU.
    supported_tasks = ("text-generation", "summarization")
    accepted_shapes = supervised_shapes(supported_tasks)

    def get_strategy_name(self) -> str:
        return "qlora"
