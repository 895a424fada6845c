"""The fast path for causal LMs: padding-free batches, checked on the model itself.

A padding-free batch is the batch's rows laid end to end in one sequence, with position ids that
restart at 0 for each row and no attention mask. transformers then builds a block-diagonal causal
mask from the position ids (``masking_utils.find_packed_sequence_indices``), so a row never sees
its neighbours, and no compute is spent on padding. Models whose attention does not go through
that mask code would mix rows; ``packs_correctly`` checks the loaded model before the fast path
is used.

With PyTorch's SDPA the mask spans all the batch's tokens (about 8 bytes per token pair, measured),
so padding-free is used only while a batch holds at most ``PACKED_TOKENS_LIMIT`` tokens (batch size
x max_seq_length), or without limit with flash-attention kernels, which take per-row lengths (on a GPU,
PyTorch's own: ``providers.varlen_attention``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..logging_config import get_logger
from ..providers.varlen_attention import ATTENTION_NAME

log = get_logger("strategies")
# The second row's logits, alone vs after another row, may differ by float noise only (bf16 on a
# GPU reorders sums); mixing rows moves them by about their own spread.
RELATIVE_TOLERANCE = 0.05
PACKED_TOKENS_LIMIT = 4096  # 4096^2 x 8 bytes = 128 MiB of mask
FLASH_ATTENTION = ("flash_attention_2", "flash_attention_3", ATTENTION_NAME)
FAST_STRATEGIES = ("sft", "qlora")  # the causal-LM strategies of the fast path (padding-free, varlen, fill, Liger)


def varlen_applies(config: Any) -> bool:
    """The config-level rule for the variable-length kernel (``providers.varlen_attention``): attention auto or
    varlen, the Hugging Face provider, causal-LM SFT or QLoRA. The worker also needs a CUDA GPU it runs on, 16-bit
    and an architecture it covers (``training.gpu_path``)."""
    return (config.attention in ("auto", "varlen") and config.provider == "huggingface"
            and config.task == "text-generation" and config.strategy in FAST_STRATEGIES)


def padding_free_applies(config: Any, attn_implementation: str | None = None) -> bool:
    """The config-level rule: causal-LM SFT or QLoRA, padding_free on, no packing, a batch small enough."""
    if not config.padding_free or config.packing or config.task != "text-generation" or config.strategy not in FAST_STRATEGIES:
        return False
    if attn_implementation in FLASH_ATTENTION:
        return True
    return config.per_device_train_batch_size * config.max_seq_length <= PACKED_TOKENS_LIMIT


def packs_correctly(model: Any) -> bool:
    """True when this model's logits for a row are the same alone and packed after another row."""
    return packing_problem(model) is None


def packing_problem(model: Any) -> str | None:
    """Why padding-free batches would be wrong for this model, or None when they are right.

    A row's logits alone are compared with the same row packed after another one (positions
    restarting at 0). They must agree within float noise: within ``RELATIVE_TOLERANCE`` of the
    logits' spread, or within a quarter of what real mixing changes (the same packed row with
    positions that run on, so that it attends to its neighbour), whichever is larger; 16-bit and
    4-bit models on a GPU have more noise than the first bound allows.
    """
    import torch

    try:
        device = next(model.parameters()).device
        vocab = int(getattr(model.config, "vocab_size", 0) or 0) or 100
        generator = torch.Generator().manual_seed(0)
        first = torch.randint(0, min(vocab, 1000), (7,), generator=generator)
        second = torch.randint(0, min(vocab, 1000), (5,), generator=generator)
        packed_ids = torch.cat([first, second])[None].to(device)

        def logits(ids, positions):
            return model(input_ids=ids, position_ids=positions[None].to(device), use_cache=False).logits[0].float()

        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                alone = logits(second[None].to(device), torch.arange(5))
                packed = logits(packed_ids, torch.cat([torch.arange(7), torch.arange(5)]))[7:]
                mixed = logits(packed_ids, torch.arange(12))[7:]
        finally:
            model.train(was_training)
    except Exception as exc:  # a model that cannot even take position ids gets the padded path
        log.info("padding-free check failed", extra={"fields": {"error": str(exc)}})
        return f"the check could not run on this model ({type(exc).__name__}: {exc})"[:300]
    spread = alone.std().item() or 1.0
    error = (alone - packed).abs().max().item()
    mixing = (alone - mixed).abs().max().item()
    if error <= max(RELATIVE_TOLERANCE * spread, 0.25 * mixing):
        return None
    return (f"this model's attention would mix the rows of a batch (a packed row's logits moved by {error / spread:.2f} "
            f"of their spread; attending to the other row moves them by {mixing / spread:.2f})")


@dataclass
class RowLengthCollator:
    """TRL's padding-free collator, its batches with their rows' lengths (for the variable-length kernel)."""

    collator: Any

    def __call__(self, examples: list) -> dict:
        from ..providers.varlen_attention import with_row_lengths

        return with_row_lengths(self.collator(examples))
