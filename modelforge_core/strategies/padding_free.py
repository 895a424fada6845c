"""The fast path for causal LMs: padding-free batches, checked on the model itself.

A padding-free batch is the batch's rows laid end to end in one sequence, with position ids that
restart at 0 for each row and no attention mask. transformers then builds a block-diagonal causal
mask from the position ids (``masking_utils.find_packed_sequence_indices``), so a row never sees
its neighbours, and no compute is spent on padding. Models whose attention does not go through
that mask code would mix rows; ``packs_correctly`` checks the loaded model before the fast path
is used.
"""

from __future__ import annotations

from typing import Any

from ..logging_config import get_logger

log = get_logger("strategies")
# The second row's logits, alone vs after another row, may differ by float noise only (bf16 on a
# GPU reorders sums); mixing rows moves them by about their own spread.
RELATIVE_TOLERANCE = 0.05


def packs_correctly(model: Any) -> bool:
    """True when this model's logits for a row are the same alone and packed after another row."""
    import torch

    try:
        first_param = next(model.parameters())
        vocab = int(getattr(model.config, "vocab_size", 0) or 0) or 100
        generator = torch.Generator().manual_seed(0)
        first = torch.randint(0, min(vocab, 1000), (7,), generator=generator)
        second = torch.randint(0, min(vocab, 1000), (5,), generator=generator)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                alone = model(
                    input_ids=second[None].to(first_param.device), position_ids=torch.arange(5)[None].to(first_param.device), use_cache=False
                ).logits[0].float()
                packed_ids = torch.cat([first, second])[None].to(first_param.device)
                positions = torch.cat([torch.arange(7), torch.arange(5)])[None].to(first_param.device)
                packed = model(input_ids=packed_ids, position_ids=positions, use_cache=False).logits[0, 7:].float()
        finally:
            model.train(was_training)
    except Exception as exc:  # a model that cannot even take position ids gets the padded path
        log.info("padding-free check failed", extra={"fields": {"error": str(exc)}})
        return False
    spread = alone.std().item() or 1.0
    return (alone - packed).abs().max().item() / spread <= RELATIVE_TOLERANCE
