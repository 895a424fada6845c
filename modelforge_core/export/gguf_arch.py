"""What a GGUF file needs per architecture: llama.cpp's architecture name, its hyperparameter keys, and
the tensor changes its runtime expects (the rotary layout of Llama's query and key projections).

Only the architectures listed in ``GGUF_ARCHITECTURES`` are written; any other is refused in words
that name them. Tensor names come from the ``gguf`` package's own name map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import ConfigurationError


@dataclass(frozen=True)
class GGUFArchitecture:
    """How one transformers ``model_type`` is written: ``gguf_arch`` is llama.cpp's name for it."""

    model_type: str
    gguf_arch: str
    permute_rotary: bool  # llama.cpp's Llama graph wants q/k rows grouped per rotary pair, not per half


# Mistral is written as llama.cpp's "llama" (as llama.cpp's own converter does): the same graph.
GGUF_ARCHITECTURES = {
    "llama": GGUFArchitecture("llama", "llama", permute_rotary=True),
    "mistral": GGUFArchitecture("mistral", "llama", permute_rotary=True),
    "qwen2": GGUFArchitecture("qwen2", "qwen2", permute_rotary=False),
}


def gguf_architecture(config: Any) -> GGUFArchitecture:
    """The entry for ``config.model_type``; ConfigurationError naming the supported ones otherwise."""
    model_type = getattr(config, "model_type", None)
    if model_type not in GGUF_ARCHITECTURES:
        raise ConfigurationError(
            f"A '{model_type}' model cannot be exported to GGUF yet: ModelForge writes GGUF for "
            f"{', '.join(sorted(GGUF_ARCHITECTURES))} (Llama 3, SmolLM, Mistral and Qwen2 models).",
            "Export it as a merged model or an adapter instead; both load in transformers and vLLM.",
        )
    return GGUF_ARCHITECTURES[model_type]


def head_dim(config: Any) -> int:
    return int(getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)


def rope_theta(config: Any) -> float:
    parameters = getattr(config, "rope_parameters", None) or {}
    return float(parameters.get("rope_theta", getattr(config, "rope_theta", 10000.0)))


def rope_type(config: Any) -> str:
    parameters = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    return parameters.get("rope_type", parameters.get("type", "default")) or "default"


def write_hyperparameters(writer: Any, config: Any, arch: GGUFArchitecture) -> None:
    """The model's shape under llama.cpp's keys (``<arch>.context_length`` and the rest)."""
    kind = rope_type(config)
    if kind not in ("default", "llama3", "linear"):
        raise ConfigurationError(
            f"This model's rotary scaling ('{kind}') cannot be written to GGUF by ModelForge yet.",
            "Export it as a merged model instead.",
        )
    writer.add_context_length(int(config.max_position_embeddings))
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(int(config.num_hidden_layers))
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_head_count(int(config.num_attention_heads))
    writer.add_head_count_kv(int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_rope_freq_base(rope_theta(config))
    writer.add_rope_dimension_count(head_dim(config))
    writer.add_vocab_size(int(config.vocab_size))
    if kind == "linear":
        import gguf

        factor = (getattr(config, "rope_parameters", None) or config.rope_scaling)["factor"]
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(factor))


def rope_frequency_factors(config: Any) -> np.ndarray | None:
    """Llama 3's per-frequency rotary divisors (llama.cpp's ``rope_freqs.weight``), from transformers' own
    rope functions: the default inverse frequencies over the Llama 3 scaled ones. None for other models."""
    if rope_type(config) != "llama3":
        return None
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    scaled, _ = ROPE_INIT_FUNCTIONS["llama3"](config, "cpu")
    dim = head_dim(config)
    base = rope_theta(config)
    default = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    return (default / scaled.double().numpy()).astype(np.float32)


def permute_rotary(weight: np.ndarray, heads: int) -> np.ndarray:
    """Reorder a q or k projection's rows from transformers' half-split rotary layout to llama.cpp's
    interleaved one (transformers' GGUF reader undoes exactly this)."""
    rows = weight.shape[0]
    return weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def gguf_tensors(state: dict[str, Any], config: Any, arch: GGUFArchitecture):
    """Yield ``(gguf_name, float32 array)`` for every tensor the runtime reads, in file order.

    A tied output head is left out (llama.cpp reuses the embedding, as transformers' reader does)."""
    import gguf

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.gguf_arch.upper()], int(config.num_hidden_layers))
    tied = bool(getattr(config, "tie_word_embeddings", False))
    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    factors = rope_frequency_factors(config)
    if factors is not None:
        yield gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", factors
    for name, tensor in state.items():
        if name == "lm_head.weight" and tied:
            continue
        if name.endswith("rotary_emb.inv_freq"):
            continue
        new_name = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new_name is None:
            raise ConfigurationError(f"The tensor '{name}' has no GGUF name for a {config.model_type} model.",
                                     "Export it as a merged model instead.")
        data = tensor.detach().float().cpu().numpy()
        if arch.permute_rotary and name.endswith("self_attn.q_proj.weight"):
            data = permute_rotary(data, heads)
        elif arch.permute_rotary and name.endswith("self_attn.k_proj.weight"):
            data = permute_rotary(data, kv_heads)
        yield new_name, data
