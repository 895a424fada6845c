"""A model's shape from its ``config.json`` alone: parameter counts and layer sizes, no weights.

The model is instantiated on PyTorch's ``meta`` device (no memory, no download), so the counts are
exact for any architecture transformers knows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..exceptions import ModelAccessError
from ..heavy_imports import wait_for_imports
from ..model_kinds import ModelKind

_IN_BLOCK = re.compile(r"\.\d+\.")
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}


@dataclass(frozen=True)
class Linear:
    """One linear layer inside the transformer blocks: its name and sizes."""

    name: str
    in_features: int
    out_features: int


@dataclass
class ModelShape:
    """What the memory estimator needs to know about a model."""

    model_type: str
    kind: ModelKind
    total_params: int
    embedding_params: int  # input embeddings (and tied output), never quantized
    head_params: int  # untied output layer or task head, kept in 16/32 bits
    hidden_size: int
    intermediate_size: int
    num_layers: int  # encoder + decoder blocks
    num_heads: int
    vocab_size: int
    checkpoint_dtype_bytes: int
    gated_mlp: bool
    attention_dropout: float = 0.0
    decoder_layers: int = 0  # of num_layers, those with cross-attention (encoder-decoders)
    linears: list[Linear] = field(default_factory=list)

    @property
    def linear_params(self) -> int:
        return sum(layer.in_features * layer.out_features for layer in self.linears)

    def lora_params(self, rank: int, target_modules: str | list[str] = "all-linear") -> int:
        """Trainable parameters LoRA adds with ``rank`` on ``target_modules``."""
        chosen = self.linears if target_modules == "all-linear" else [
            layer for layer in self.linears if layer.name.rsplit(".", 1)[-1] in set(target_modules)
        ]
        return sum(rank * (layer.in_features + layer.out_features) for layer in chosen)


def _first(config: dict, *names: str, default: int = 0) -> int:
    for name in names:
        if config.get(name):
            return int(config[name])
    return default


def model_shape(config: dict, model_class: str = ModelKind.CAUSAL.auto_class) -> ModelShape:
    """The shape of the model ``config`` describes, loaded as ``model_class``; raises ModelAccessError.

    Cached by config contents: the Finetune tab estimates on every change of the form.
    """
    return _cached_shape(json.dumps(config, sort_keys=True), model_class)


@lru_cache(maxsize=64)
def _cached_shape(config_json: str, model_class: str) -> ModelShape:
    config = json.loads(config_json)
    wait_for_imports()
    import torch
    import transformers

    if "model_type" not in config:
        raise ModelAccessError("The model's config.json has no model_type.", "Use a transformers model folder or Hub id.")
    data = dict(config)
    try:
        kind = ModelKind.of_auto_class(model_class)
        hf_config = transformers.AutoConfig.for_model(data.pop("model_type"), **data)
        with torch.device("meta"):
            model = getattr(transformers, kind.auto_class).from_config(hf_config)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelAccessError(
            f"transformers cannot build this model as {model_class}: {exc}",
            "Check that the model suits the task, or upgrade transformers for a newer architecture.",
        ) from exc
    return _shape_of(model, config, kind)


def _shape_of(model, config: dict, kind: ModelKind) -> ModelShape:
    import torch

    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    heads = {id(module) for module in (output,) if module is not None}
    embedding_params = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters(recurse=False))
    linears, head_params = [], 0
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if weight is None or weight.dim() != 2 or isinstance(module, torch.nn.Embedding):
            continue
        is_linear = isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D"
        if not is_linear:
            continue
        if id(module) in heads or not _IN_BLOCK.search(name):
            # the output layer and task heads (qa_outputs, score, pooler) sit outside the numbered blocks
            tied = output is not None and module is output and output.weight is model.get_input_embeddings().weight
            head_params += 0 if tied else weight.numel()
            continue
        out_f, in_f = weight.shape if isinstance(module, torch.nn.Linear) else weight.shape[::-1]
        linears.append(Linear(name, int(in_f), int(out_f)))
    dtype = str(config.get("torch_dtype") or config.get("dtype") or "float32").replace("torch.", "")
    hidden = _first(config, "hidden_size", "d_model", "n_embd", "dim")
    return ModelShape(
        model_type=config["model_type"],
        kind=kind,
        total_params=sum(p.numel() for p in model.parameters()),
        embedding_params=embedding_params,
        head_params=head_params,
        hidden_size=hidden,
        intermediate_size=_first(config, "intermediate_size", "d_ff", "n_inner", "ffn_dim", "hidden_dim", default=4 * hidden),
        num_layers=_first(config, "num_hidden_layers", "num_layers", "n_layer", "encoder_layers")
        + _first(config, "num_decoder_layers", "decoder_layers", default=0 if kind is not ModelKind.SEQ2SEQ else _first(config, "num_layers")),
        num_heads=_first(config, "num_attention_heads", "num_heads", "n_head", "encoder_attention_heads"),
        vocab_size=_first(config, "vocab_size"),
        checkpoint_dtype_bytes=DTYPE_BYTES.get(dtype, 4),
        gated_mlp=_is_gated(config, linears),
        attention_dropout=float(
            next((config[k] for k in ("attention_probs_dropout_prob", "attention_dropout", "dropout_rate", "attn_pdrop") if config.get(k)), 0.0)
        ),
        decoder_layers=_first(config, "num_decoder_layers", "decoder_layers", "num_layers") if kind is ModelKind.SEQ2SEQ else 0,
        linears=linears,
    )


def _is_gated(config: dict, linears: list[Linear]) -> bool:
    names = {layer.name.rsplit(".", 1)[-1] for layer in linears}
    return bool(names & {"gate_proj", "wi_0", "w1", "gate_up_proj"}) or "gated" in str(config.get("feed_forward_proj", ""))
