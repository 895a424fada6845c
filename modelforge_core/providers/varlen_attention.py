"""Padding-free attention without a mask: PyTorch's variable-length flash kernel behind transformers' flash path.

transformers' flash-attention integration already turns a padding-free batch's position ids (or per-row lengths
passed with the batch, or a padded batch's mask) into cumulative row lengths and calls a
``flash_attn_varlen_func``; without the flash-attn package it has none to call. This module gives it one,
built on ``torch.nn.attention.varlen.varlen_attn`` (PyTorch's FlashAttention-2 kernel: CUDA, 16-bit,
Ampere and later), under the attention implementation name ``ATTENTION_NAME``. Each row attends to itself
only and no block-diagonal mask over the batch's tokens is built (SDPA's costs about 8 bytes per token pair).
Where the kernel does not apply (a CPU, float32, attention dropout) the same function computes each row apart
with SDPA: exact, and what the tests compare with.

Causal attention is aligned bottom-right, as in flash-attn 2.1 and later: with a KV cache the new queries see
every cached key.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any

ATTENTION_NAME = "modelforge_flash_varlen"  # "flash" in the name: transformers then treats it as a flash kernel
KERNEL_DTYPES = ("float16", "bfloat16")
MAX_HEAD_DIM = 256


@functools.cache
def varlen_problem() -> str | None:
    """Why the variable-length kernel cannot run here, or None when it can (checked once per process: the GPU, the
    torch build, then one small causal forward and backward with grouped heads against each row apart)."""
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU"
    major, minor = torch.cuda.get_device_capability()
    if major < 8:
        return f"the GPU's compute capability is {major}.{minor}; the flash kernel needs 8.0 (Ampere) or later"
    try:
        from torch.nn.attention import varlen  # noqa: F401
    except ImportError:
        return f"torch {torch.__version__} has no torch.nn.attention.varlen (PyTorch 2.9 or later has it)"
    return _self_check()


def _self_check() -> str | None:
    import torch

    generator = torch.Generator(device="cuda").manual_seed(0)
    cu = torch.tensor([0, 24, 64], dtype=torch.int32, device="cuda")
    q, k, v = (torch.randn(64, heads, 64, device="cuda", generator=generator).to(torch.bfloat16).requires_grad_()
               for heads in (4, 2, 2))
    try:
        out = _torch_varlen(q, k, v, cu, cu, 40, 40, None, True, (-1, -1))
        out.float().sum().backward()
    except Exception as exc:  # a torch build whose kernel does not run here: SDPA instead
        return f"the kernel failed its check on this GPU ({type(exc).__name__}: {exc})"[:300]
    expected = reference_varlen(q.detach().float(), k.detach().float(), v.detach().float(), cu, cu, causal=True)
    error = (out.detach().float() - expected).abs().max().item()
    if error > 0.05 or q.grad is None:
        return f"the kernel's output differs from attention row by row by {error:.3f} on this GPU"
    return None


@functools.cache
def _kernel_parameters() -> frozenset[str]:
    from torch.nn.attention.varlen import varlen_attn

    return frozenset(inspect.signature(varlen_attn).parameters)


def _kernel_applies(query: Any, dropout_p: float, window_size: tuple[int, int]) -> bool:
    if not query.is_cuda or str(query.dtype).removeprefix("torch.") not in KERNEL_DTYPES or dropout_p:
        return False
    if query.shape[-1] > MAX_HEAD_DIM or varlen_problem() is not None:
        return False
    return tuple(window_size) == (-1, -1) or "window_size" in _kernel_parameters()


def _torch_varlen(query, key, value, cu_q, cu_k, max_q, max_k, scale, causal, window_size):
    import torch
    from torch.nn.attention.varlen import varlen_attn

    parameters = _kernel_parameters()
    cu_q, cu_k = cu_q.to(torch.int32), cu_k.to(torch.int32)
    kwargs: dict[str, Any] = {}
    grouped = key.shape[1] != query.shape[1]
    if "window_size" in parameters:  # PyTorch 2.10+: causal is the window (-1, 0)
        left, right = window_size
        kwargs["window_size"] = (left, 0) if causal else (left, right)
        kwargs["enable_gqa"] = grouped
    else:  # PyTorch 2.9: is_causal, no grouped heads
        kwargs["is_causal"] = causal
        if grouped:
            repeat = query.shape[1] // key.shape[1]
            key, value = key.repeat_interleave(repeat, dim=1), value.repeat_interleave(repeat, dim=1)
    if "scale" in parameters:
        kwargs["scale"] = scale
    elif scale is not None:
        query = query * (scale * math.sqrt(query.shape[-1]))
    return varlen_attn(query, key, value, cu_q, cu_k, int(max_q), int(max_k), **kwargs)


def reference_varlen(query, key, value, cu_q, cu_k, dropout_p=0.0, scale=None, causal=False, window_size=(-1, -1)):
    """Each row apart with SDPA (``query`` is (tokens, heads, dim); grouped key/value heads are repeated)."""
    import torch
    import torch.nn.functional as F

    starts_q, starts_k = cu_q.tolist(), cu_k.tolist()
    repeat = query.shape[1] // key.shape[1]
    out = torch.empty_like(query)
    left, right = window_size
    for row in range(len(starts_q) - 1):
        q = query[starts_q[row]:starts_q[row + 1]].transpose(0, 1)
        k = key[starts_k[row]:starts_k[row + 1]].repeat_interleave(repeat, dim=1).transpose(0, 1)
        v = value[starts_k[row]:starts_k[row + 1]].repeat_interleave(repeat, dim=1).transpose(0, 1)
        length_q, length_k = q.shape[1], k.shape[1]
        if not length_q:
            continue
        mask = None
        if causal or (left, right) != (-1, -1):
            # query i sits at key position i + (length_k - length_q): bottom-right alignment
            offset = torch.arange(length_k, device=q.device)[None] - (torch.arange(length_q, device=q.device)[:, None] + length_k - length_q)
            mask = torch.ones(length_q, length_k, dtype=torch.bool, device=q.device)
            if causal:
                mask &= offset <= 0
            if left >= 0:
                mask &= offset >= -left
            if right >= 0 and not causal:
                mask &= offset <= right
        out[starts_q[row]:starts_q[row + 1]] = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale
        ).transpose(0, 1)
    return out


def flash_attn_varlen_func(query, key, value, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, dropout_p=0.0,
                           softmax_scale=None, causal=False, window_size=(-1, -1)):
    """flash-attn's ``flash_attn_varlen_func``, as transformers calls it: (tokens, heads, dim) tensors."""
    if _kernel_applies(query, dropout_p, window_size):
        return _torch_varlen(query, key, value, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k, softmax_scale, causal,
                             tuple(window_size))
    return reference_varlen(query, key, value, cu_seqlens_q, cu_seqlens_k, dropout_p, softmax_scale, causal, tuple(window_size))


def flash_attn_func(query, key, value, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1)):
    """flash-attn's ``flash_attn_func`` for (batch, length, heads, dim) tensors without padding: every row one sequence."""
    import torch

    batch, length_q, length_k = query.shape[0], query.shape[1], key.shape[1]
    cu_q = torch.arange(0, (batch + 1) * length_q, length_q, dtype=torch.int32, device=query.device)
    cu_k = torch.arange(0, (batch + 1) * length_k, length_k, dtype=torch.int32, device=query.device)
    out = flash_attn_varlen_func(
        query.reshape(batch * length_q, *query.shape[2:]), key.reshape(batch * length_k, *key.shape[2:]),
        value.reshape(batch * length_k, *value.shape[2:]), cu_q, cu_k, length_q, length_k, dropout_p, softmax_scale, causal,
        window_size,
    )
    return out.reshape(batch, length_q, *out.shape[1:])


def _preload() -> None:
    """Point transformers' flash path at these functions (what it does itself for the flash-attn package)."""
    import transformers.modeling_flash_attention_utils as flash

    if flash._loaded_implementation == ATTENTION_NAME:
        return
    flash._loaded_implementation = ATTENTION_NAME
    flash._flash_fn, flash._flash_varlen_fn, flash._flash_with_kvcache_fn = flash_attn_func, flash_attn_varlen_func, None
    flash._pad_fn, flash._unpad_fn = flash._pad_input, flash._unpad_input
    flash._process_flash_kwargs_fn = flash._lazy_define_process_function(flash_attn_varlen_func)


def _attention(module, query, key, value, attention_mask, **kwargs):
    from transformers.integrations.flash_attention import flash_attention_forward

    _preload()  # again: a model loaded with another flash implementation in this process would have moved it
    return flash_attention_forward(module, query, key, value, attention_mask, **kwargs)


@functools.cache
def register_varlen_attention() -> str:
    """Register the implementation with transformers (once per process); returns its name for ``attn_implementation``."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, flash_attention_mask

    AttentionInterface.register(ATTENTION_NAME, _attention)
    AttentionMaskInterface.register(ATTENTION_NAME, flash_attention_mask)
    _preload()
    return ATTENTION_NAME


def with_row_lengths(batch: dict) -> dict:
    """A padding-free batch with its rows' cumulative lengths, so that no layer derives them from the position ids
    (each would wait on the GPU for them)."""
    import torch

    positions = batch["position_ids"][0]
    starts = torch.nonzero(positions == 0).flatten()
    cumulative = torch.cat([starts, torch.tensor([positions.numel()])]).to(torch.int32)
    longest = int((cumulative[1:] - cumulative[:-1]).max())
    return {**batch, "cu_seq_lens_q": cumulative, "cu_seq_lens_k": cumulative, "max_length_q": longest,
            "max_length_k": longest}
